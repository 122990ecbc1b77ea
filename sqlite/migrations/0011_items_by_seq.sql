-- An item is written to two B-trees instead of three: the table, clustered
-- on (contact_id, seq), and the partial ClientToken index. The rare lookup
-- by item id (a read receipt, a transcript's StartPosition) reads the
-- contact's items newest first, where the item sought almost always is.
DROP INDEX items_id;
