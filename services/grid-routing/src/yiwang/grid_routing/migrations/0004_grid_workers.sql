-- The roster of grid workers (五大员), versioned like grid sets: each import is a new
-- version, checked against the grid set active then, and switched in atomically.
CREATE TABLE rosters (
    version     integer     PRIMARY KEY,
    label       text        NOT NULL,
    source      text        NOT NULL,
    grid_set    integer     NOT NULL REFERENCES grid_sets (version),
    workers     integer     NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE active_roster (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    version     integer     NOT NULL REFERENCES rosters (version),
    switched_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grid_workers (
    roster      integer NOT NULL REFERENCES rosters (version) ON DELETE CASCADE,
    worker_id   text    NOT NULL,
    name        text    NOT NULL,
    micro_grids text[]  NOT NULL,
    roles       text[]  NOT NULL,
    PRIMARY KEY (roster, worker_id)
);
CREATE INDEX grid_workers_micro_grids ON grid_workers USING gin (micro_grids);

-- Grid tasks (小事不出网格): one per case that stayed in the grid.
CREATE TABLE grid_tasks (
    task_id         text        PRIMARY KEY,
    case_id         text        NOT NULL UNIQUE REFERENCES routed_cases (case_id),
    worker_id       text        NOT NULL,
    micro_grid_code text        NOT NULL,
    township_code   text        NOT NULL,
    category        text        NOT NULL,
    title           text        NOT NULL,
    lead_department text        NOT NULL,
    status          text        NOT NULL,
    informant       text,
    assigned_at     timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    acknowledged_at timestamptz,
    closed_at       timestamptz,
    closed_by       text,
    note            text,
    photo_urls      jsonb       NOT NULL DEFAULT '[]',
    reason          text
);
CREATE INDEX grid_tasks_open_by_worker ON grid_tasks (worker_id)
    WHERE status IN ('assigned', 'acknowledged');
CREATE INDEX grid_tasks_open_by_due ON grid_tasks (due_at)
    WHERE status IN ('assigned', 'acknowledged');

-- Who tried to act on a grid task they may not (a worker of another micro-grid): audited.
CREATE TABLE grid_task_audit (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL,
    actor    text        NOT NULL,
    task_id  text        NOT NULL,
    case_id  text        NOT NULL,
    action   text        NOT NULL,
    outcome  text        NOT NULL,
    detail   text        NOT NULL
);
