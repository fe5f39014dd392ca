-- Which events each projection has applied. A projection writes its tracking rows in the same
-- transaction as its changes, so a redelivered event hits the primary key and changes nothing.
CREATE TABLE IF NOT EXISTS projection_tracking (
    projection  text        NOT NULL,
    event_id    uuid        NOT NULL,
    position    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
);
