-- Ownership: each contact's owner (bot:<id>, queue:<id>, agent:<id>, or ''
-- for nobody) and the version that compare-and-swap changes check.
-- Contacts from before have no owner and version 1.

ALTER TABLE contacts ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
