"""Apply the numbered `migrations/*.sql` files in order, each in its own transaction.

Progress lives in `PRAGMA user_version` (the number of the last applied file), so a re-run is
a no-op and a database made by an older release is upgraded in place. Statements are run one
by one rather than through `executescript`, which would COMMIT first and break atomicity.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import aiosqlite

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def migrations_dir() -> Traversable:
    """The packaged copy in a wheel, else the repository's `migrations/` next to the package."""
    packaged = resources.files("backlog_mcp") / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "migrations"


def load_migrations(directory: Traversable | None = None) -> list[Migration]:
    found = []
    for entry in (directory or migrations_dir()).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001, 0002, … without gaps; found {numbers}")
    return found


def split_statements(sql: str) -> list[str]:
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:60]!r}")
    return statements


async def schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def apply_migrations(db: aiosqlite.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the names applied. `db` must be in autocommit mode."""
    applied: list[str] = []
    for migration in migrations if migrations is not None else load_migrations():
        # IMMEDIATE takes the write lock before re-reading the version, so two processes
        # starting together cannot both apply the same file.
        await db.execute("BEGIN IMMEDIATE")
        try:
            if await schema_version(db) >= migration.number:
                await db.execute("COMMIT")
                continue
            for statement in split_statements(migration.sql):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {migration.number:d}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied
