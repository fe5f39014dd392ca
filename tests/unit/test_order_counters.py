"""Metrics counters add up exactly, however large the amounts."""

from __future__ import annotations

from decimal import Decimal

from projections.order_counters import VOLUME_OUT, CounterDeltas


def test_volumes_beyond_28_significant_digits_add_up_exactly() -> None:
    deltas = CounterDeltas()
    large = Decimal("9876543210987654321.12345")  # 24 significant digits
    for _ in range(100_000):
        deltas.add(VOLUME_OUT, "BONK", large)
    deltas.add(VOLUME_OUT, "BONK", Decimal("0.00001"))
    volume = dict(((name, label), value) for name, label, value in deltas.rows())
    assert volume[(VOLUME_OUT, "BONK")] == Decimal("987654321098765432112345.00001")
