"""The contract suite drives a running server over HTTP by base URL.

`OEE_BASE_URL` points it at any deployment; otherwise a fixture starts `oee api`, `oee process`
and `oee project` on a free port, with a key prefix and a database schema of its own: once on the
test servers' Redis and once on a three-master Redis Cluster.
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


@pytest.fixture(scope="session", params=["single", "cluster"])
def base_url(server_urls: tuple[str, str], request: pytest.FixtureRequest) -> Iterator[str]:
    """Each contract test runs twice: with the engine on the test servers' Redis, and on the
    three-master test cluster."""
    external = os.environ.get("OEE_BASE_URL")
    if external:
        if request.param == "cluster":
            pytest.skip("OEE_BASE_URL names one deployment: its run is the first")
        yield external.rstrip("/")
        return
    cluster = request.param == "cluster"
    redis_url = request.getfixturevalue("cluster_url") if cluster else server_urls[0]
    with scratch_schema(server_urls[1], prefix="contract") as scoped_db:
        migrate(scoped_db)
        with running_engine(
            redis_url,
            scoped_db,
            key_prefix=f"contract{uuid.uuid4().hex[:8]}",
            cluster=cluster,
        ) as url:
            yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
