"""The contract suite drives a running server over HTTP by base URL.

`OEE_BASE_URL` points it at any deployment; otherwise a fixture starts `oee api`, `oee process`
and `oee project` against the test servers, on a free port, with a key prefix and a database
schema of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from schema.migrate import migrate
from tests.support.running_engine import running_engine
from tests.support.schemas import scratch_schema


@pytest.fixture(scope="session")
def base_url(server_urls: tuple[str, str]) -> Iterator[str]:
    external = os.environ.get("OEE_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    redis_url, database_url = server_urls
    with scratch_schema(database_url, prefix="contract") as scoped_db:
        migrate(scoped_db)
        with running_engine(
            redis_url,
            scoped_db,
            key_prefix=f"contract{uuid.uuid4().hex[:8]}",
        ) as url:
            yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
