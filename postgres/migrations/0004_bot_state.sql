-- The bot runner's state of each contact (Store.SaveBotState).
CREATE TABLE bot_states (
	contact_id text PRIMARY KEY REFERENCES contacts (id),
	state      bytea NOT NULL
);
