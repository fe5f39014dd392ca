"""Migrations: applied once each, safe to run twice and from several processes at once."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from schema.migrate import available_migrations, migrate
from schema.read_model_columns import EVENT_COLUMN_TYPES, ORDER_COLUMN_TYPES


def _tables(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY 1, 2"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _applied(database_url: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [r[0] for r in rows]


def test_migrating_an_empty_database_applies_every_migration_once(database_url: str) -> None:
    applied = migrate(database_url)
    assert [m.version for m in applied] == [m.version for m in available_migrations()]
    assert _applied(database_url) == [m.version for m in available_migrations()]


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    migrate(database_url)
    before = _tables(database_url)
    assert migrate(database_url) == []
    assert _tables(database_url) == before
    assert _applied(database_url) == [m.version for m in available_migrations()]


def test_three_migrate_processes_at_once_all_succeed(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "oee", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    # Exactly one of them did the work; the others found nothing pending.
    assert sum("nothing pending" in out for out in outputs) == 2, outputs
    assert _applied(database_url) == [m.version for m in available_migrations()]


def test_the_migrated_read_tables_have_exactly_the_columns_the_code_reads_and_writes(
    database_url: str,
) -> None:
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name IN ('orders', 'order_events')"
        ).fetchall()
    found = {(table, column): kind for table, column, kind in rows}
    set_by_default = {("orders", "projected_at"), ("order_events", "projected_at")}  # now()
    expected = {
        **{("orders", c): t for c, t in ORDER_COLUMN_TYPES.items()},
        **{("order_events", c): t for c, t in EVENT_COLUMN_TYPES.items()},
    }
    assert set(found) - set_by_default == set(expected)
    short = {"timestamp with time zone": "timestamptz"}
    assert {
        key: short.get(kind, kind) for key, kind in found.items() if key in expected
    } == expected
    assert ("projection_tracking", "event_id") not in set(_tables(database_url))
