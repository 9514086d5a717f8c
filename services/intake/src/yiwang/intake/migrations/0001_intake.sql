-- Intake's view of cases: what was submitted, by which channel, and (from
-- case.lifecycle.v1) where each case stands now.
CREATE TABLE cases (
    case_id          uuid PRIMARY KEY,
    case_number      text        NOT NULL UNIQUE,
    channel          text        NOT NULL,
    category         text        NOT NULL,
    title            text        NOT NULL,
    description      text        NOT NULL,
    priority         text        NOT NULL,
    state            text        NOT NULL,
    status_note      text,
    lead_department  text,
    -- Location: normalised WGS-84 point (if any) plus what was sent.
    lon              double precision,
    lat              double precision,
    crs_submitted    text,
    lon_submitted    double precision,
    lat_submitted    double precision,
    address          text,
    admin_code       text,
    micro_grid_hint  text,
    source_system    text,
    external_id      text,
    channel_details  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    media_urls       text[]      NOT NULL DEFAULT '{}',
    attributes       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    master_case_id   uuid REFERENCES cases (case_id),
    reporter_count   integer     NOT NULL DEFAULT 1,
    api_key_id       text,
    received_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Time of the lifecycle entry the state came from: an older entry never overwrites it.
    state_at         timestamptz NOT NULL
);
CREATE INDEX cases_open_by_category ON cases (category, received_at)
    WHERE master_case_id IS NULL AND state NOT IN ('resolved', 'evaluated', 'closed', 'rejected', 'duplicate');
CREATE INDEX cases_received_at ON cases (received_at);
CREATE INDEX cases_state ON cases (state);
CREATE UNIQUE INDEX cases_source ON cases (source_system, external_id) WHERE external_id IS NOT NULL;

-- Personal data, apart from the case and encrypted at rest (AES-GCM, key from the
-- environment). Only masked values are readable without the key.
CREATE TABLE reporters (
    reporter_id      uuid PRIMARY KEY,
    case_id          uuid        NOT NULL REFERENCES cases (case_id),
    anonymous        boolean     NOT NULL,
    name_masked      text,
    phone_masked     text,
    id_number_masked text,
    name_sealed      bytea,
    phone_sealed     bytea,
    id_number_sealed bytea,
    email_sealed     bytea,
    created_at       timestamptz NOT NULL
);
CREATE INDEX reporters_case ON reporters (case_id);

-- Retries and concurrent duplicates of one submission find the case created first.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    case_id      uuid        NOT NULL REFERENCES cases (case_id),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Case numbers read over the phone: <county>-<yyyymmdd>-<sequence of the day>.
CREATE TABLE case_number_sequences (
    day      date    PRIMARY KEY,
    last_seq integer NOT NULL
);

-- The timeline summary intake shows (and Open311 status_notes), from case.lifecycle.v1.
CREATE TABLE timeline (
    event_id   text PRIMARY KEY,
    case_id    uuid        NOT NULL,
    at         timestamptz NOT NULL,
    from_state text,
    to_state   text        NOT NULL,
    actor      text        NOT NULL,
    note       text
);
CREATE INDEX timeline_case ON timeline (case_id, at);

-- API keys per integrating platform, stored as SHA-256 hashes.
CREATE TABLE api_keys (
    key_id     text PRIMARY KEY,
    platform   text        NOT NULL,
    key_hash   text        NOT NULL,
    scopes     text[]      NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Open311 tokens: a client may poll GET tokens/<token> for its service_request_id.
CREATE TABLE open311_tokens (
    token      text PRIMARY KEY,
    case_id    uuid NOT NULL REFERENCES cases (case_id),
    created_at timestamptz NOT NULL
);
