-- Read models of the `orders` projection: the current state of every order, its event history and
-- the metrics counters. Only projectors write these tables; the API only reads them.
-- Index names are PostgreSQL's defaults, so a replay that builds copies with
-- `CREATE TABLE ... (LIKE ... INCLUDING ALL)` ends with the very same names after the swap.

-- One row per order: the fold of its events (schema.order_state), at `sequence`.
CREATE TABLE IF NOT EXISTS orders (
    id              uuid        PRIMARY KEY,
    sequence        integer     NOT NULL,
    status          text        NOT NULL,
    order_type      text        NOT NULL,
    token_in        text        NOT NULL,
    token_out       text        NOT NULL,
    amount_in       numeric     NOT NULL,
    slippage        numeric     NOT NULL,
    limit_price     numeric,
    expires_at      timestamptz,
    client_id       text,
    correlation_id  uuid,
    quotes          jsonb       NOT NULL DEFAULT '[]',
    route           jsonb,
    selected_dex    text,
    expected_out    numeric,
    min_amount_out  numeric,
    amount_out      numeric,
    executed_price  numeric,
    price_impact    numeric,
    fee             numeric,
    tx_hash         text,
    attempts        integer     NOT NULL DEFAULT 0,
    error_code      text,
    error_message   text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    confirmed_at    timestamptz,
    last_event_type text        NOT NULL,
    last_position   text        NOT NULL,
    projected_at    timestamptz NOT NULL DEFAULT now()
);

-- Newest first with keyset pagination on (created_at, id), alone or after one equality filter.
CREATE INDEX IF NOT EXISTS orders_created_at_id_idx ON orders (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_status_created_at_id_idx
    ON orders (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_token_in_created_at_id_idx
    ON orders (token_in, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS orders_token_out_created_at_id_idx
    ON orders (token_out, created_at DESC, id DESC);
-- Accept-to-confirmed latency and throughput over a recent window.
CREATE INDEX IF NOT EXISTS orders_confirmed_at_idx ON orders (confirmed_at)
    WHERE confirmed_at IS NOT NULL;

-- Every event of every order, keyed by (order, sequence): a redelivery hits the key.
-- `status` is the order's status after the event; the envelope is kept whole, so an order's
-- state can be folded from here when its events reached the projectors out of order.
CREATE TABLE IF NOT EXISTS order_events (
    order_id        uuid        NOT NULL,
    sequence        integer     NOT NULL,
    position        text        NOT NULL,
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    status          text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_id  uuid,
    causation_id    uuid,
    schema_version  integer     NOT NULL,
    payload         jsonb       NOT NULL,
    projected_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, sequence)
);

-- Counters and gauges, by name and one label (status, venue, token, error code, bucket bound).
-- Changed only by the state transitions the projection applies, so redelivery counts nothing twice.
CREATE TABLE IF NOT EXISTS metric_counters (
    name   text    NOT NULL,
    label  text    NOT NULL DEFAULT '',
    value  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (name, label)
);
