-- Mediation: cases on the ladder, parties (sealed), sessions, history, timers, roster.

CREATE TABLE mediator (
    mediator_id text PRIMARY KEY,
    name        text NOT NULL,
    level       text NOT NULL,
    area_code   text NOT NULL,
    trade       text,
    specialties text[] NOT NULL DEFAULT '{}',
    load        integer NOT NULL DEFAULT 0 CHECK (load >= 0),
    capacity    integer NOT NULL CHECK (capacity > 0),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mediator_by_level ON mediator (level, active);

CREATE TABLE mediation_case (
    mediation_id      text PRIMARY KEY,
    case_id           text NOT NULL,
    dispute_type      text NOT NULL,
    routed            jsonb NOT NULL,
    level             text NOT NULL,
    committee_area    text NOT NULL,
    committee_trade   text,
    status            text NOT NULL,
    case_state        text NOT NULL,
    round             integer NOT NULL,
    opened_at         timestamptz NOT NULL,
    level_entered_at  timestamptz NOT NULL,
    level_deadline    timestamptz NOT NULL,
    mediator_id       text REFERENCES mediator (mediator_id),
    amount_in_dispute numeric(14, 2),
    agreement         jsonb,
    follow_up_due     boolean NOT NULL DEFAULT false,
    referral_venue    text,
    outcome_reason    text,
    closed_at         timestamptz,
    sessions          integer NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- One open mediation per governance case: a redelivered or repeated CaseRouted finds it.
CREATE UNIQUE INDEX one_open_mediation_per_case ON mediation_case (case_id)
    WHERE status IN ('pending', 'accepted', 'agreed');
CREATE INDEX mediation_by_status ON mediation_case (status, opened_at);

CREATE TABLE party (
    party_id         text PRIMARY KEY,
    mediation_id     text NOT NULL REFERENCES mediation_case (mediation_id),
    role             text NOT NULL,
    name_masked      text,
    phone_masked     text,
    id_number_masked text,
    reporter_id      text,
    name_sealed      bytea,
    phone_sealed     bytea,
    id_number_sealed bytea,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX party_of_mediation ON party (mediation_id);

CREATE TABLE mediation_session (
    session_id   text PRIMARY KEY,
    mediation_id text NOT NULL REFERENCES mediation_case (mediation_id),
    level        text NOT NULL,
    mediator_id  text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    place        text NOT NULL
);
CREATE INDEX session_of_mediation ON mediation_session (mediation_id, scheduled_at);

CREATE TABLE mediation_step (
    id           bigserial PRIMARY KEY,
    mediation_id text NOT NULL REFERENCES mediation_case (mediation_id),
    at           timestamptz NOT NULL,
    step         text NOT NULL,
    level        text NOT NULL,
    outcome      text,
    note         text
);
CREATE INDEX step_of_mediation ON mediation_step (mediation_id, id);

-- Durable timers: a rung's time limit and an agreement's performance deadline. A sweeper
-- claims due rows FOR UPDATE SKIP LOCKED and sets `fired` in the transaction that writes
-- the resulting events to the outbox, so each timer takes effect exactly once.
CREATE TABLE mediation_timer (
    timer_id     bigserial PRIMARY KEY,
    mediation_id text NOT NULL REFERENCES mediation_case (mediation_id),
    kind         text NOT NULL,
    round        integer NOT NULL,
    due_at       timestamptz NOT NULL,
    fired        boolean NOT NULL DEFAULT false,
    fired_at     timestamptz,
    outcome      text
);
CREATE INDEX timer_due ON mediation_timer (due_at) WHERE NOT fired;
