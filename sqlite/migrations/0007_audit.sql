-- The audit trail: one row per event of the flows (register, code checks,
-- login requests, refresh, logout, account deletion, phone change) and of
-- the operators' actions. Never a code or a token; the number only masked.
-- user_id references nothing: the trail of a deleted account outlives it.
-- Store.Prune deletes rows older than the audit retention.

CREATE TABLE audit_events (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,   -- unix milliseconds
	kind         TEXT NOT NULL,
	user_id      TEXT,
	phone_masked TEXT NOT NULL DEFAULT '',
	client_ip    TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT '', -- truncated to 200 bytes
	outcome      TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
