-- Routing now keeps a dispute it sent to mediation as 'in_mediation' (mediation holds it
-- from there), so that only such a case can come back from mediation (CaseLeftMediation);
-- cases routed to mediation before this migration take that state too. A case mediation
-- handed back is marked `mediated`: it is never routed to mediation again.
ALTER TABLE routed_cases ADD COLUMN mediated boolean NOT NULL DEFAULT false;
UPDATE routed_cases c SET state = 'in_mediation'
FROM routing_decisions d
WHERE d.case_id = c.case_id AND d.attempt = c.attempts AND d.to_mediation AND c.state = 'routed';
