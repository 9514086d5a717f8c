-- Versioned grid sets: each import is a new version; the active one is switched in the
-- import's own transaction, and earlier versions are kept.
CREATE TABLE grid_sets (
    version          integer     PRIMARY KEY,
    label            text        NOT NULL,
    source           text        NOT NULL,
    county_code      text        NOT NULL,
    admin_units      integer     NOT NULL,
    department_units integer     NOT NULL,
    micro_grids      integer     NOT NULL,
    repairs          jsonb       NOT NULL DEFAULT '[]',
    imported_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE active_grid_set (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    version     integer     NOT NULL REFERENCES grid_sets (version),
    switched_at timestamptz NOT NULL DEFAULT now()
);

-- The admin tree: county > township > community > grid > micro-grid. Geometry is WKB.
CREATE TABLE admin_units (
    grid_set    integer NOT NULL REFERENCES grid_sets (version) ON DELETE CASCADE,
    code        text    NOT NULL,
    level       text    NOT NULL,
    name        text    NOT NULL,
    parent_code text,
    households  integer,
    geometry    bytea   NOT NULL,
    PRIMARY KEY (grid_set, code)
);

-- Each department's own units, with their own codes and boundaries.
CREATE TABLE department_units (
    grid_set   integer NOT NULL REFERENCES grid_sets (version) ON DELETE CASCADE,
    department text    NOT NULL,
    code       text    NOT NULL,
    name       text    NOT NULL,
    geometry   bytea   NOT NULL,
    PRIMARY KEY (grid_set, department, code)
);

-- The one-network overlay computed at import: micro-grid -> covering unit per department.
CREATE TABLE micro_grid_units (
    grid_set        integer          NOT NULL REFERENCES grid_sets (version) ON DELETE CASCADE,
    micro_grid_code text             NOT NULL,
    department      text             NOT NULL,
    unit_code       text             NOT NULL,
    share           double precision NOT NULL,
    PRIMARY KEY (grid_set, micro_grid_code, department)
);
