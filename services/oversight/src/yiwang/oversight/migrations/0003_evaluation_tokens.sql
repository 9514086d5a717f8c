-- Residents' one-time evaluation tokens: only the SHA-256 of each is kept, one per
-- resolution of a case, valid once until the case's close timer (expires_at).
CREATE TABLE evaluation_tokens (
    token_hash    text        PRIMARY KEY,
    case_id       text        NOT NULL,
    resolved_at   timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    issued_at     timestamptz NOT NULL,
    used_at       timestamptz,
    evaluation_id text,
    UNIQUE (case_id, resolved_at)
);

-- Who recorded an evaluation: 'resident' (with the token), or the hotline operator
-- ('person:<username>') who took it on a follow-up call.
ALTER TABLE evaluations ADD COLUMN recorded_by text;
