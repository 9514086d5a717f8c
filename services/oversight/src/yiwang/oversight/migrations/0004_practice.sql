-- 小事不出网格: how the case's grid task ended (in_grid, settled, passed_up), for the
-- settled-in-grid share. NULL: the case was never a grid worker's task.
ALTER TABLE cases ADD COLUMN grid_outcome text;
CREATE INDEX cases_micro_grid ON cases (micro_grid) WHERE grid_outcome IS NOT NULL;

-- 一考双评: a township's monthly assessment of a department that served it; one per
-- township, department and month.
CREATE TABLE township_assessments (
    assessment_id text        PRIMARY KEY,
    township_code text        NOT NULL,
    department    text        NOT NULL,
    month         date        NOT NULL,  -- the first day of the assessed month
    score         smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment       text,
    assessed_by   text        NOT NULL,
    assessed_at   timestamptz NOT NULL,
    UNIQUE (township_code, department, month)
);
CREATE INDEX township_assessments_month ON township_assessments (month);
