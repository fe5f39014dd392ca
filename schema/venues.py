"""The venues the engine routes to, by name: what a pool launch may name, and what the simulated
market (`processors.initial_market`) builds its pools for."""

from __future__ import annotations

RAYDIUM = "raydium"
METEORA = "meteora"
VENUES = (RAYDIUM, METEORA)
