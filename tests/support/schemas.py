"""Scratch PostgreSQL schemas: a test's tables live in a schema of their own, dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg.conninfo import make_conninfo


@contextlib.contextmanager
def scratch_schema(server_url: str, prefix: str = "t") -> Iterator[str]:
    """A fresh schema on `server_url`, as a conninfo whose search_path is that schema; the schema
    and everything in it is dropped on leaving."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield make_conninfo(server_url, options=f"-c search_path={name}")
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
