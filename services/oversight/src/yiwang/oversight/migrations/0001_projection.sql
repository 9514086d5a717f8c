-- Every timeline entry once, keyed by its event id: the projection is a fold over these.
CREATE TABLE timeline (
    entry_id    text        PRIMARY KEY,
    case_id     text        NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    actor       text        NOT NULL,
    from_state  text,
    to_state    text,
    note        text,
    attrs       jsonb       NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timeline_case ON timeline (case_id, at);

-- The folded case (a cache of fold(timeline)), for searches, ledgers and KPIs.
CREATE TABLE cases (
    case_id               text PRIMARY KEY,
    case_number           text,
    state                 text,
    state_at              timestamptz,
    category              text,
    channel               text,
    priority              text,
    lead_department       text,
    assisting_departments text[]      NOT NULL DEFAULT '{}',
    lead_history          text[]      NOT NULL DEFAULT '{}',
    returned_by           text[]      NOT NULL DEFAULT '{}',
    township_code         text,
    micro_grid            text,
    sla_class             text,
    received_at           timestamptz,
    started_at            timestamptz,
    last_activity_at      timestamptz,
    responded_at          timestamptz,
    resolved_at           timestamptz,
    closed_at             timestamptz,
    return_count          integer     NOT NULL DEFAULT 0,
    extended              boolean     NOT NULL DEFAULT false,
    score                 smallint,
    evaluated_at          timestamptz,
    sla_policy            text,
    response_due          timestamptz,
    resolution_due        timestamptz,
    is_open               boolean     NOT NULL,
    response_running      boolean     NOT NULL,
    resolution_running    boolean     NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_state ON cases (state);
CREATE INDEX cases_department ON cases (lead_department);
CREATE INDEX cases_township ON cases (township_code);
CREATE INDEX cases_started ON cases (started_at);
CREATE INDEX cases_response_due ON cases (response_due) WHERE response_running;
CREATE INDEX cases_resolution_due ON cases (resolution_due) WHERE resolution_running;

-- Durable timers: a replica claims due rows with FOR UPDATE SKIP LOCKED and sets fired_at
-- in the transaction that writes the alert's outbox row, so each fires exactly once.
CREATE TABLE timers (
    id         bigserial   PRIMARY KEY,
    case_id    text        NOT NULL,
    clock      text        NOT NULL,
    stage      text        NOT NULL,
    deadline   timestamptz NOT NULL,
    due_at     timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    fired_at   timestamptz,
    fired_by   text,
    outcome    text,  -- 'alerted', or 'stopped' when the clock had stopped meanwhile
    UNIQUE (case_id, clock, stage, deadline)
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;

CREATE TABLE alerts (
    alert_id      text        PRIMARY KEY,
    case_id       text        NOT NULL,
    kind          text        NOT NULL,
    command_level text        NOT NULL,
    department    text,
    township_code text,
    deadline      timestamptz,
    reason        text        NOT NULL,
    raised_at     timestamptz NOT NULL
);
CREATE INDEX alerts_case ON alerts (case_id);
CREATE INDEX alerts_raised ON alerts (raised_at);

CREATE TABLE evaluations (
    evaluation_id text        PRIMARY KEY,
    case_id       text        NOT NULL,
    score         smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment       text,
    source        text        NOT NULL,  -- 'api' or 'topic'
    evaluated_at  timestamptz NOT NULL
);
CREATE INDEX evaluations_case ON evaluations (case_id);

CREATE TABLE follow_up_calls (
    call_id   text        PRIMARY KEY,
    case_id   text        NOT NULL,
    called_at timestamptz NOT NULL,
    operator  text        NOT NULL,
    reached   boolean     NOT NULL,
    satisfied boolean,
    note      text
);
CREATE INDEX follow_up_calls_case ON follow_up_calls (case_id, called_at);

-- One row per department a whistle summoned; blown and attendance may arrive in any order.
CREATE TABLE whistle_calls (
    whistle_id    text        NOT NULL,
    department    text        NOT NULL,
    case_id       text        NOT NULL,
    township_code text,
    blown_at      timestamptz,
    report_by     timestamptz,
    reported_at   timestamptz,
    on_time       boolean,
    PRIMARY KEY (whistle_id, department)
);
CREATE INDEX whistle_calls_blown ON whistle_calls (blown_at);
