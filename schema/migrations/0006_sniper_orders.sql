-- A sniper order waits for a pool of its pair holding at least this much of its tokenIn.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS min_liquidity numeric;
