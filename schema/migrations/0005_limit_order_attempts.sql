-- A limit order may be triggered more than once (the market can move back before its swap);
-- each trigger has the whole retry budget: the attempts made before the latest trigger.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS attempt_base integer NOT NULL DEFAULT 0;
