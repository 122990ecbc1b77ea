-- The routing snapshot finds the queue each agent's chat was taken from:
-- the contact's latest offer accepted by its owner (owner 'agent:' ||
-- agent_id), read from this index alone.
CREATE INDEX offers_accepted ON offers (contact_id, agent_id, decided_at, queue_id) WHERE state = 'accepted';
