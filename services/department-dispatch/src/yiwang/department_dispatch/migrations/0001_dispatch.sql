-- department-dispatch: cases as dispatch sees them, work orders, replies, whistles.
CREATE TABLE dispatch_case (
    case_id         text PRIMARY KEY,
    state           text        NOT NULL,
    attempt         int         NOT NULL,
    command_level   text        NOT NULL,
    lead_department text        NOT NULL,
    return_count    int         NOT NULL DEFAULT 0,
    routed          jsonb       NOT NULL,  -- the CaseRouted this round was built from
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE work_order (
    work_order_id text PRIMARY KEY,
    case_id       text        NOT NULL REFERENCES dispatch_case (case_id),
    department    text        NOT NULL,
    role          text        NOT NULL,
    command_level text        NOT NULL,
    round         text        NOT NULL,
    status        text        NOT NULL,
    deadline      timestamptz NOT NULL,
    issued_at     timestamptz NOT NULL,
    whistle_id    text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- One work order per case per department per dispatch round, however often the
    -- routing decision is delivered.
    UNIQUE (case_id, department, round)
);
CREATE INDEX work_order_case ON work_order (case_id);

-- Replies that were applied; (department, reply_id) makes a repeated reply a no-op.
CREATE TABLE reply (
    department    text        NOT NULL,
    reply_id      text        NOT NULL,
    case_id       text        NOT NULL,
    work_order_id text        NOT NULL,
    kind          text        NOT NULL,
    channel       text        NOT NULL,
    body          jsonb       NOT NULL,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (department, reply_id)
);

-- The audit trail of rejected replies; security = someone acted on an assignment that is
-- not theirs, or without a valid credential.
CREATE TABLE reply_rejection (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    channel       text        NOT NULL,
    department    text,          -- from the credential; NULL when none was valid
    claimed       text,          -- what the sender claimed (header), for forensics
    case_id       text,
    work_order_id text,
    reply_id      text,
    kind          text,
    reason        text        NOT NULL,
    detail        text        NOT NULL,
    security      boolean     NOT NULL
);
CREATE INDEX reply_rejection_security ON reply_rejection (at) WHERE security;

CREATE TABLE api_key (
    key_hash   text PRIMARY KEY,
    principal  text        NOT NULL,  -- a department code, or township:<code>
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_key_principal ON api_key (principal);

CREATE TABLE whistle (
    whistle_id    text PRIMARY KEY,
    case_id       text        NOT NULL REFERENCES dispatch_case (case_id),
    township_code text        NOT NULL,
    departments   text[]      NOT NULL,
    report_by     timestamptz NOT NULL,
    reason        text        NOT NULL,
    blown_at      timestamptz NOT NULL
);

CREATE TABLE whistle_attendance (
    whistle_id  text        NOT NULL REFERENCES whistle (whistle_id),
    department  text        NOT NULL,
    report_by   timestamptz NOT NULL,
    reported_at timestamptz,
    outcome     text,  -- on_time | late | missed; NULL while the deadline runs
    PRIMARY KEY (whistle_id, department)
);
-- The deadline sweep reads only attendances still waiting.
CREATE INDEX whistle_attendance_waiting ON whistle_attendance (report_by) WHERE outcome IS NULL;
