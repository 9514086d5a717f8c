-- Every case reaches an end: oversight closes cases (after an evaluation, or without one),
-- reopens them for re-handling (不满意重办), records the hub's rulings (终审) and clocks
-- restarted at a reopening. Closed duplicates stay out of everyone's figures.
ALTER TABLE cases
    ADD COLUMN clock_started_at        timestamptz,
    ADD COLUMN resolved_by             text,
    ADD COLUMN closed_after_evaluation boolean,
    ADD COLUMN reopened_at             timestamptz,
    ADD COLUMN rehandling              integer NOT NULL DEFAULT 0,
    ADD COLUMN rehandled_to_hub        boolean NOT NULL DEFAULT false,
    ADD COLUMN ruled                   boolean NOT NULL DEFAULT false,
    ADD COLUMN duplicate               boolean NOT NULL DEFAULT false,
    ADD COLUMN mediation_held          boolean NOT NULL DEFAULT false;

UPDATE cases SET clock_started_at = started_at, duplicate = coalesce(state = 'duplicate', false);

CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL;
