-- Notices a grid worker (宣传员) brought to the residents of a case's micro-grid, for
-- example after a resolved hazard: recorded on the case.
CREATE TABLE grid_notices (
    notice_id       text        PRIMARY KEY,
    case_id         text        NOT NULL REFERENCES routed_cases (case_id),
    worker_id       text        NOT NULL,
    micro_grid_code text        NOT NULL,
    text            text        NOT NULL,
    published_at    timestamptz NOT NULL
);
CREATE INDEX grid_notices_by_case ON grid_notices (case_id, published_at);
