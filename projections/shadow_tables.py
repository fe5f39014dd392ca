"""Shadow copies of read tables for a rebuild, and the swap that puts them in place.

The copies live in a schema of their own beside the live one, with the live tables' columns,
defaults, constraints and index names; the swap moves tables between schemas in the caller's
transaction, so readers see either every old table or every new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection, sql


@dataclass(frozen=True, slots=True)
class ShadowSchemas:
    live: str
    rebuild: str
    retired: str

    @classmethod
    def beside(cls, live: str) -> ShadowSchemas:
        base = live[:50]  # identifiers stop at 63 bytes
        return cls(live, f"{base}__rebuild", f"{base}__retired")


async def current_schema(conn: AsyncConnection) -> str:
    cursor = await conn.execute("SELECT current_schema()")
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("no current schema: is the search_path empty?")
    return str(row[0])


async def create_shadow_tables(
    conn: AsyncConnection, schemas: ShadowSchemas, tables: tuple[str, ...]
) -> None:
    """Empty copies of `tables` in the rebuild schema (dropping an unfinished earlier one)."""
    rebuild = sql.Identifier(schemas.rebuild)
    async with conn.transaction():
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(rebuild))
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(rebuild))
        for table in tables:
            await conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    sql.Identifier(schemas.rebuild, table), sql.Identifier(schemas.live, table)
                )
            )


async def use_schema(conn: AsyncConnection, schema: str, *, local: bool = False) -> None:
    """Point unqualified table names at `schema` (for the transaction only when `local`)."""
    scope = sql.SQL("SET LOCAL") if local else sql.SQL("SET")
    await conn.execute(sql.SQL("{} search_path TO {}").format(scope, sql.Identifier(schema)))


async def skip_commit_flush(conn: AsyncConnection) -> None:
    """Commit rebuild transactions without waiting for the WAL flush (`synchronous_commit=off`).

    Safe for the shadow tables: nothing reads them before the swap, and a crash only loses rows a
    new replay rebuilds from the log anyway. The swap itself must commit durably (see
    `commit_durably`): the live group is moved past the replayed events right after it, and its
    WAL flush also makes every earlier rebuild transaction durable (the WAL is written in order).
    """
    await conn.execute("SET synchronous_commit TO off")


async def commit_durably(conn: AsyncConnection) -> None:
    """Make the caller's transaction wait for its WAL flush at commit, whatever the session says."""
    await conn.execute("SET LOCAL synchronous_commit TO on")


async def swap_in(conn: AsyncConnection, schemas: ShadowSchemas, tables: tuple[str, ...]) -> None:
    """Replace the live tables by the rebuilt ones; call inside the caller's transaction."""
    retired = sql.Identifier(schemas.retired)
    await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(retired))
    await conn.execute(sql.SQL("CREATE SCHEMA {}").format(retired))
    for table in tables:
        await conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(schemas.live, table), retired
            )
        )
        await conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier(schemas.rebuild, table), sql.Identifier(schemas.live)
            )
        )
    await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(retired))
    await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schemas.rebuild)))


async def drop_shadow_tables(conn: AsyncConnection, schemas: ShadowSchemas) -> None:
    await conn.execute(
        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schemas.rebuild))
    )
