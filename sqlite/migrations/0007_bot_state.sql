-- The bot runner's state of each contact (Store.SaveBotState), kept
-- before in the contact attribute helpline_bot: the states move here and
-- the attribute goes, so that it no longer shows among the contact's
-- attributes.

CREATE TABLE bot_states (
	contact_id TEXT PRIMARY KEY REFERENCES contacts(id),
	state      BLOB NOT NULL
);

INSERT INTO bot_states (contact_id, state)
	SELECT id, CAST(json_extract(attributes, '$.helpline_bot') AS BLOB) FROM contacts
	WHERE json_extract(attributes, '$.helpline_bot') != '';

UPDATE contacts SET attributes = json_remove(attributes, '$.helpline_bot')
	WHERE json_type(attributes, '$.helpline_bot') IS NOT NULL;
