-- department-dispatch: the one SLA policy on work orders, the hub's rulings (终审),
-- re-handling after an unsatisfied evaluation (不满意重办), departments' own listing.

-- When the SLA clock of the current handling started (intake's receipt, or the reopening),
-- how often dispatch escalated the case since, the ruling on its routing decision and
-- which re-handling it is in.
ALTER TABLE dispatch_case
    ADD COLUMN clock_started_at timestamptz,
    ADD COLUMN escalations      int  NOT NULL DEFAULT 0,
    ADD COLUMN ruling_id        text,
    ADD COLUMN rehandling       int  NOT NULL DEFAULT 0;
-- Cases dispatched before: the receipt if the decision carried it, else the first order.
UPDATE dispatch_case c SET clock_started_at = COALESCE(
    (c.routed -> 'case' ->> 'received_at')::timestamptz,
    (SELECT min(w.issued_at) FROM work_order w WHERE w.case_id = c.case_id),
    c.updated_at
);
ALTER TABLE dispatch_case ALTER COLUMN clock_started_at SET NOT NULL;

ALTER TABLE work_order
    ADD COLUMN case_number  text,
    ADD COLUMN response_due timestamptz,  -- sign for it (签收) by; NULL for whistle summonses
    ADD COLUMN sla_policy   text,
    ADD COLUMN ruling_id    text,         -- the hub's ruling named this department
    ADD COLUMN rehandling   int NOT NULL DEFAULT 0;
UPDATE work_order w SET case_number = c.routed -> 'case' ->> 'case_number'
    FROM dispatch_case c WHERE c.case_id = w.case_id;
ALTER TABLE work_order ALTER COLUMN case_number SET NOT NULL;
-- GET /work-orders: a department's orders, newest first.
CREATE INDEX work_order_department ON work_order (department, issued_at DESC, work_order_id DESC);

-- The audit trail of the hub's final rulings: one per routing decision at the hub.
CREATE TABLE ruling (
    ruling_id   text PRIMARY KEY,
    case_id     text        NOT NULL REFERENCES dispatch_case (case_id),
    attempt     int         NOT NULL,  -- the routing decision it ruled on
    department  text        NOT NULL,  -- who handles the case now, and may not return it
    reason      text        NOT NULL,
    ruled_by    text        NOT NULL,  -- the principal of the API key that ruled
    ruled_at    timestamptz NOT NULL,
    returned_by text[]      NOT NULL,  -- the departments that had returned the case
    UNIQUE (case_id, attempt)
);
