-- Pruning expired revocation events uses this index instead of reading
-- the whole table (which also filled every connection's page cache).
CREATE INDEX revocation_events_expires ON revocation_events (expires_at);
