-- Assisting tasks (协管员): a township department asks the grid worker of a case's
-- micro-grid to assist on site.
CREATE TABLE assist_tasks (
    assist_id       text        PRIMARY KEY,
    case_id         text        NOT NULL REFERENCES routed_cases (case_id),
    worker_id       text        NOT NULL,
    micro_grid_code text        NOT NULL,
    requested_by    text        NOT NULL,
    note            text        NOT NULL,
    status          text        NOT NULL,
    requested_at    timestamptz NOT NULL,
    done_at         timestamptz,
    report          text
);
CREATE INDEX assist_tasks_open_by_worker ON assist_tasks (worker_id) WHERE status = 'requested';
