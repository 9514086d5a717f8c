-- Who acted. Every step of a mediation's history names its actor: a person as
-- "person:<username>" (from the identity provider's token), or "mediation" for what the
-- service does by itself (opening a routed dispute, its timers). Roster entries keep who
-- registered or last changed them.
ALTER TABLE mediation_step ADD COLUMN actor text NOT NULL DEFAULT 'mediation';
ALTER TABLE mediator ADD COLUMN changed_by text;
