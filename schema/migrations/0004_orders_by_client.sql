-- A client's own page of orders, newest first: the list's keyset, per client (API keys on).
CREATE INDEX IF NOT EXISTS orders_client_created_at_id_idx
    ON orders (client_id, created_at DESC, id DESC);
