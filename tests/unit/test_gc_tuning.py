"""The collector tuning comes off when the last block using it ends, whatever the order."""

from __future__ import annotations

import gc

from eventlog.gc_tuning import fewer_collections


def test_overlapping_blocks_restore_the_settings_only_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first, second = fewer_collections(50_000), fewer_collections(10_000)
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == 50_000
    first.__exit__(None, None, None)  # the outer block ends first
    assert gc.get_threshold()[0] == 50_000
    assert gc.get_freeze_count() > 0
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
