-- The audit trail: one row per event of the flows (register, code checks,
-- login requests, refresh, logout, account deletion, phone change) and of
-- the operators' actions. Never a code or a token; the number only masked.
-- user_id references nothing: the trail of a deleted account outlives it.
-- Store.Prune deletes rows older than the audit retention.

CREATE TABLE audit_events (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at           timestamptz NOT NULL,
	kind         text NOT NULL,
	user_id      text,
	phone_masked text NOT NULL DEFAULT '',
	client_ip    text NOT NULL DEFAULT '',
	user_agent   text NOT NULL DEFAULT '', -- truncated to 200 bytes
	outcome      text NOT NULL
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
