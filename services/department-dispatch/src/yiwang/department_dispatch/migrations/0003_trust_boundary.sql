-- department-dispatch: the trust boundary. Who acted is recorded in every audit row, and
-- departments sign their Kafka replies with random secrets of their own, stored sealed.

-- The authenticated sender: person:<username>, department-system:<code>, township-system:<code>.
ALTER TABLE reply ADD COLUMN actor text;
ALTER TABLE reply_rejection ADD COLUMN actor text;  -- NULL when no credential was valid
ALTER TABLE whistle ADD COLUMN blown_by text;
COMMENT ON COLUMN ruling.ruled_by IS
    'a hub operator''s audit name (person:<username>), or the hub system''s department code';

-- Each department's signing secrets (yiwang.common.signatures): sealed with the vault of
-- YIWANG_DISPATCH_SIGNING_KEY, bound to (department, key id). One current secret per
-- department (valid_until NULL); a rotation ends the previous one after an overlap.
CREATE TABLE signing_secret (
    department  text        NOT NULL,
    key_id      text        NOT NULL,
    sealed      bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    valid_until timestamptz,
    PRIMARY KEY (department, key_id)
);
CREATE UNIQUE INDEX signing_secret_current ON signing_secret (department)
    WHERE valid_until IS NULL;
