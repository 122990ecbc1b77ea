-- How many times a participant of the contact has left: LeaveParticipant
-- raises it under the contact's row lock, so that an append which waited
-- for the lock can tell that a sender may have left after the snapshot it
-- began with (see appendItemSQL).
ALTER TABLE contacts ADD COLUMN leaves bigint NOT NULL DEFAULT 0;
