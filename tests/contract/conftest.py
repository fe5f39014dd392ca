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
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from schema.migrate import migrate
from tests.support.running_engine import running_engine


@pytest.fixture(scope="session")
def base_url(server_urls: tuple[str, str]) -> Iterator[str]:
    external = os.environ.get("OEE_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    redis_url, database_url = server_urls
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    scoped_db = make_conninfo(database_url, options=f"-c search_path={schema}")
    migrate(scoped_db)
    try:
        with running_engine(
            redis_url,
            scoped_db,
            key_prefix=f"contract{uuid.uuid4().hex[:8]}",
        ) as url:
            yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
