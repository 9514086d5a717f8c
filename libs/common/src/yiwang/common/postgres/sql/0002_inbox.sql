-- Inbox: one row per (consumer, event) handled, written in the handler's transaction, so
-- a redelivered event finds its row and does nothing.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_received_at ON inbox (received_at);
