-- Cases as routing knows them: what was received (to route again on a return), where
-- they stand, and who returned them.
CREATE TABLE routed_cases (
    case_id              text        PRIMARY KEY,
    received             jsonb       NOT NULL,
    state                text        NOT NULL,
    returns              integer     NOT NULL DEFAULT 0,
    excluded_departments text[]      NOT NULL DEFAULT '{}',
    attempts             integer     NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Every routing decision, in order: the case's routing history.
CREATE TABLE routing_decisions (
    case_id               text        NOT NULL REFERENCES routed_cases (case_id),
    attempt               integer     NOT NULL,
    grid_set              integer,
    micro_grid_code       text,
    township_code         text,
    department_units      jsonb       NOT NULL,
    lead_department       text        NOT NULL,
    assisting_departments text[]      NOT NULL,
    tier                  text        NOT NULL,
    sla_class             text        NOT NULL,
    to_mediation          boolean     NOT NULL,
    triage                boolean     NOT NULL,
    rule_id               text        NOT NULL,
    reason                text        NOT NULL,
    excluded_departments  text[]      NOT NULL,
    trigger               text        NOT NULL,
    decided_at            timestamptz NOT NULL,
    PRIMARY KEY (case_id, attempt)
);
