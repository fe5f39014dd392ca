-- The log's history in PostgreSQL: every event, exactly as the log holds it, keyed by its position
-- (the stream entry id <ms>-<seq>, as two numbers) and partitioned by month of that position, so a
-- month no longer wanted can be detached and dropped. The archiver creates each month's partition
-- (event_archive_YYYY_MM) before the first event of that month.
CREATE TABLE IF NOT EXISTS event_archive (
    position_ms bigint NOT NULL,
    position_seq bigint NOT NULL,
    order_id uuid NOT NULL,
    type text NOT NULL,
    data text NOT NULL,
    PRIMARY KEY (position_ms, position_seq)
) PARTITION BY RANGE (position_ms);

-- One order's history, in log order.
CREATE INDEX IF NOT EXISTS event_archive_order_idx
    ON event_archive (order_id, position_ms, position_seq);
