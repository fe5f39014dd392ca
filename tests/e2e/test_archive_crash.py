"""The archiver under SIGKILL: killed mid-batch and started again, it archives every event once,
in log order, positions gap-free."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.parts import drain_archive
from tests.support.archive_reads import archived, logged_entries
from tests.support.polling import eventually
from tests.support.processor_processes import oee_part

pytestmark = pytest.mark.on_cluster_too


async def test_an_archiver_killed_mid_batch_archives_every_event_once_when_started_again(
    redis: aioredis.Redis, keys: Keys, migrated: Settings, tmp_path: Path
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(3_000, seed=5))
    logged = await logged_entries(redis, keys)
    settings = migrated.model_copy(update={"archive_batch_size": 200, "log_level": "WARNING"})
    with oee_part(settings, tmp_path / "doomed.log", "project", "--name", "doomed") as doomed:

        def some_archived() -> bool:
            return 0 < len(archived(settings)) < len(logged)

        await eventually(some_archived, within=60, what="the archiver half-way")
        doomed.kill()
        doomed.wait(timeout=10)
    assert len(archived(settings)) < len(logged), "killed too late to mean anything"
    await drain_archive(settings, name="heir")
    assert archived(settings) == logged  # every position once, in order, none missing
