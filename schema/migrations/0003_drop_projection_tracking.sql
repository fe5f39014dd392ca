-- No projection writes a separate tracking table: the `orders` projection's `order_events` is its
-- tracking table (keyed by the event's natural key, written in the same transaction). An unused
-- table only misleads; a projection that needs one adds it in its own migration.
DROP TABLE IF EXISTS projection_tracking;
