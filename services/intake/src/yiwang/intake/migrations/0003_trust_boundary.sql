-- The trust boundary: who submitted each case, platforms' systems and signing secrets,
-- the unscrubbed text sealed with the reporter, audited access to personal data, its
-- erasure, and residents' evaluation tokens.

-- Who submitted a case: a platform's code (its API key's platform, or the system that
-- signed its Kafka record) or a person's audit name ("person:<username>"). A platform's
-- key reads only the cases its platform submitted.
ALTER TABLE cases ADD COLUMN submitted_by text;
UPDATE cases c SET submitted_by = k.platform FROM api_keys k WHERE k.key_id = c.api_key_id;
UPDATE cases SET submitted_by = source_system WHERE submitted_by IS NULL AND source_system IS NOT NULL;
CREATE INDEX cases_submitted_by ON cases (submitted_by, received_at DESC, case_id DESC);
-- Ended cases, for the retention job: closed or rejected, by when.
CREATE INDEX cases_ended ON cases (state_at) WHERE state IN ('closed', 'rejected');

-- The systems a platform's key may submit as (source.system); empty: its platform code.
ALTER TABLE api_keys ADD COLUMN systems text[] NOT NULL DEFAULT '{}';

-- Idempotency keys from the Idempotency-Key header are the platform's, not one key's: a
-- platform's retry with its new key finds the case its old key made.
UPDATE idempotency_keys i SET scope = 'header:' || k.platform
FROM api_keys k
WHERE i.scope = 'header:' || k.key_id
  AND NOT EXISTS (SELECT 1 FROM idempotency_keys o WHERE o.scope = 'header:' || k.platform AND o.key = i.key);

-- The original title and description when scrubbing took personal data out of them,
-- sealed with the reporter's personal data; erased with it.
ALTER TABLE reporters ADD COLUMN title_sealed bytea;
ALTER TABLE reporters ADD COLUMN description_sealed bytea;
ALTER TABLE reporters ADD COLUMN erased_at timestamptz;

-- Secrets platforms sign their Kafka records with, sealed; during a rotation the old one
-- keeps working until expires_at.
CREATE TABLE signing_secrets (
    signer        text        NOT NULL,
    key_id        text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    PRIMARY KEY (signer, key_id)
);

-- Every unseal or erasure of a reporter's personal data: who, when, which case, why.
CREATE TABLE personal_data_access (
    access_id uuid PRIMARY KEY,
    case_id   uuid        NOT NULL REFERENCES cases (case_id),
    actor     text        NOT NULL,
    action    text        NOT NULL,
    reason    text        NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX personal_data_access_case ON personal_data_access (case_id, at);

-- A resolved case's one-time evaluation token (from oversight), sealed; shown to the
-- platform that submitted the case and to hotline operators.
CREATE TABLE evaluation_tokens (
    case_id      uuid PRIMARY KEY,
    token_sealed bytea       NOT NULL,
    expires_at   timestamptz NOT NULL,
    invited_at   timestamptz NOT NULL
);
