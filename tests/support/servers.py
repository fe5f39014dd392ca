"""Where the tests find real Redis and PostgreSQL servers.

`REDIS_URL`/`DATABASE_URL` when set; else testcontainers when a Docker daemon answers; else the
embedded servers that `oee up` uses. Never a fake.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextlib.contextmanager
def _containers(need_redis: bool, need_postgres: bool) -> Iterator[tuple[str | None, str | None]]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    with contextlib.ExitStack() as stack:
        redis_url = postgres_url = None
        if need_redis:
            redis = stack.enter_context(RedisContainer("redis:7"))
            host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
            redis_url = f"redis://{host}:{port}/0"
        if need_postgres:
            pg = stack.enter_context(PostgresContainer("postgres:16", driver=None))
            postgres_url = pg.get_connection_url()
        yield redis_url, postgres_url


@contextlib.contextmanager
def _embedded(redis_url: str | None, database_url: str | None) -> Iterator[tuple[str, str]]:
    from oee.embedded import EmbeddedServers

    # mkdtemp, not pytest's tmp_path: PostgreSQL's own user must be able to enter the folder.
    data_dir = Path(tempfile.mkdtemp(prefix="oee-test-"))
    servers = EmbeddedServers(data_dir, redis_url=redis_url, database_url=database_url)
    try:
        yield servers.start()
    finally:
        servers.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def test_servers() -> Iterator[tuple[str, str]]:
    redis_url = os.environ.get("REDIS_URL") or None
    database_url = os.environ.get("DATABASE_URL") or None
    if redis_url and database_url:
        yield redis_url, database_url
        return
    if _docker_answers():
        with _containers(redis_url is None, database_url is None) as (started_redis, started_pg):
            redis = redis_url or started_redis
            postgres = database_url or started_pg
            assert redis
            assert postgres
            yield redis, postgres
        return
    with _embedded(redis_url, database_url) as urls:
        yield urls
