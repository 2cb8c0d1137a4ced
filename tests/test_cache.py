from __future__ import annotations

import stat
from pathlib import Path

import aiosqlite
import pytest

from backlog_mcp.cache import ResponseCache, cache_key, cache_scope, key_identity
from backlog_mcp.migrate import apply_migrations, load_migrations, schema_version, split_statements

pytestmark = pytest.mark.anyio

KEY = "secret-key-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def dump(path: Path) -> list[tuple[object, ...]]:
    async with aiosqlite.connect(path) as db:
        rows = await db.execute_fetchall(
            "SELECT path, body, created_at, expires_at, stale_until FROM responses ORDER BY path"
        )
    return [tuple(r) for r in rows]


async def test_put_get_expiry_and_purge(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "c.sqlite3"
    cache = await ResponseCache.open(path, clock=clock)
    scope = cache_scope("https://a.backlog.com", KEY)
    k1, k2 = cache_key(scope, "/issues/A-1", []), cache_key(scope, "/projects", [])
    await cache.put(k1, scope=scope, path="/issues/A-1", body='{"id": 1}', ttl=60, grace=100)
    await cache.put(k2, scope=scope, path="/projects", body="[]", ttl=3600, grace=100)
    assert (await cache.get(k1)).body == '{"id": 1}'  # type: ignore[union-attr]
    assert await dump(path) == [
        ("/issues/A-1", '{"id": 1}', 1_000_000.0, 1_000_060.0, 1_000_160.0),
        ("/projects", "[]", 1_000_000.0, 1_003_600.0, 1_003_700.0),
    ]
    clock.now += 61
    assert await cache.get(k1) is None  # expired: decided in SQL
    assert (await cache.get_stale(k1)).body == '{"id": 1}'  # type: ignore[union-attr]
    assert await cache.purge_expired() == 0  # still inside the grace period
    clock.now += 100
    assert await cache.get_stale(k1) is None
    assert await cache.purge_expired() == 1
    assert await cache.count() == 1
    assert await cache.clear() == 1
    await cache.close()


async def test_keys_separate_spaces_api_keys_paths_and_params() -> None:
    a = cache_scope("https://a.backlog.com", KEY)
    b = cache_scope("https://b.backlog.com", KEY)
    c = cache_scope("https://a.backlog.com", KEY + "x")
    keys = {
        cache_key(a, "/issues", [("count", "20")]),
        cache_key(b, "/issues", [("count", "20")]),
        cache_key(c, "/issues", [("count", "20")]),
        cache_key(a, "/issues/count", [("count", "20")]),
        cache_key(a, "/issues", [("count", "21")]),
    }
    assert len(keys) == 5
    assert cache_key(a, "/i", [("x", "1"), ("a", "2")]) == cache_key(a, "/i", [("a", "2"), ("x", "1")])
    assert KEY not in a and key_identity(KEY) in a


PATHS = ("/issues", "/issues/A-1", "/issues/A-1/comments", "/issues/A-10", "/issuesX", "/projects/A/statuses")


async def test_invalidate_drops_subtree_only_for_scope(tmp_path: Path) -> None:
    cache = await ResponseCache.open(tmp_path / "c.sqlite3")
    mine, other = cache_scope("https://a", KEY), cache_scope("https://a", "other-key")
    for scope in (mine, other):
        for path in PATHS:
            await cache.put(cache_key(scope, path, []), scope=scope, path=path, body="{}", ttl=60, grace=0)
    # `/issues/A-1/*` is the issue and below it: not A-10, not the list, not the other key's rows.
    assert await cache.invalidate(mine, ["/issues/A-1/*"]) == 2
    assert await cache.invalidate(mine, ["/issues"]) == 1  # exact: the list only
    assert await cache.invalidate(mine, []) == 0
    assert await cache.count() == 2 * len(PATHS) - 3
    db = cache._db
    assert db is not None
    remaining = {row[0] for row in await db.execute_fetchall("SELECT path FROM responses WHERE scope = ?", (mine,))}
    assert remaining == {"/issues/A-10", "/issuesX", "/projects/A/statuses"}
    await cache.close()


async def test_file_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cache.sqlite3"
    cache = await ResponseCache.open(path)
    await cache.put("k", scope="s", path="/p", body="{}", ttl=60, grace=0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) == 0o600
    await cache.close()


async def test_corrupt_file_is_moved_aside_and_recreated(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"this page is damaged" * 100)  # ours, but unreadable
    cache = await ResponseCache.open(path)
    assert cache.enabled
    await cache.put("k", scope="s", path="/p", body="{}", ttl=60, grace=0)
    assert await cache.count() == 1
    assert len(list(tmp_path.glob("cache.sqlite3.corrupt-*"))) == 1
    await cache.close()


async def test_unwritable_location_disables_cache_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = await ResponseCache.open(blocker / "sub" / "cache.sqlite3")
    assert not cache.enabled
    assert await cache.get("k") is None
    await cache.put("k", scope="s", path="/p", body="{}", ttl=60, grace=0)
    assert "response cache disabled" in caplog.text


def test_split_statements() -> None:
    sql = "-- c\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nINSERT INTO a VALUES ('a;b');\n-- end\n"
    assert split_statements(sql) == [
        "-- c\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "INSERT INTO a VALUES ('a;b');",
    ]


async def test_migrations_apply_in_order_and_rerun_is_noop(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))
    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as db:
        assert await apply_migrations(db) == [m.name for m in migrations]
        assert await schema_version(db) == len(migrations)
        assert await apply_migrations(db) == []


async def test_upgrade_from_older_schema_keeps_rows(tmp_path: Path) -> None:
    first, *rest = load_migrations()
    async with aiosqlite.connect(tmp_path / "old.db", isolation_level=None) as db:
        await apply_migrations(db, [first])
        await db.execute(
            "INSERT INTO responses (key, scope, path, body, created_at, expires_at) VALUES ('k', 's', '/p', '[]', 1, 99)"
        )
        assert await apply_migrations(db) == [m.name for m in rest]
        rows = await db.execute_fetchall("SELECT key, stale_until FROM responses")
        assert [tuple(r) for r in rows] == [("k", 99.0)]


async def test_failed_migration_rolls_back_completely(tmp_path: Path) -> None:
    from backlog_mcp.migrate import Migration

    broken = [Migration(1, "0001_x.sql", "CREATE TABLE t (a);\nINSERT INTO nowhere VALUES (1);")]
    async with aiosqlite.connect(tmp_path / "b.db", isolation_level=None) as db:
        with pytest.raises(Exception, match="no such table: nowhere"):
            await apply_migrations(db, broken)
        assert await schema_version(db) == 0
        rows = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE name = 't'")
        assert list(rows) == []


async def test_a_file_that_is_not_sqlite_is_never_touched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    notes.chmod(0o644)
    cache = await ResponseCache.open(notes)
    assert not cache.enabled
    assert notes.read_text() == "my notes" and stat.S_IMODE(notes.stat().st_mode) == 0o644
    assert list(tmp_path.iterdir()) == [notes]  # nothing moved aside, no -wal or -shm


async def test_a_write_in_per_user_mode_drops_every_keys_copy(tmp_path: Path) -> None:
    from backlog_mcp.cache import ResponseCache, cache_scope

    cache = await ResponseCache.open(tmp_path / "c.sqlite3")
    try:
        hana, bob = cache_scope("https://x", "key-hana"), cache_scope("https://x", "key-bob")
        other_space = cache_scope("https://y", "key-bob")
        for scope in (hana, bob, other_space):
            await cache.put(f"{scope}/issues/A-1", scope=scope, path="/issues/A-1", body="{}", ttl=60, grace=0)
        assert await cache.invalidate(hana, ["/issues/A-1"]) == 1  # one key's own copy
        assert await cache.invalidate(hana, ["/issues/A-1"], every_key=True) == 1  # bob's, same space
        assert await cache.get(f"{other_space}/issues/A-1") is not None  # another space is untouched
    finally:
        await cache.close()
