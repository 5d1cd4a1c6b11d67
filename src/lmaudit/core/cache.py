"""The request cache: answers keyed by (model fingerprint, request, generation parameters).

SQLite in WAL mode, so readers never block the writer. Writes go in batches inside
`BEGIN IMMEDIATE` transactions: a process takes the write lock before it reads anything
in the transaction, so two writers never deadlock on a lock upgrade (the cause of most
`database is locked` errors); a busy writer waits up to `busy_timeout_s` for the other.
Within a process one thread (the runner's) owns the connection.

What is not cached: sampled generations without a seed (a second run should draw new
samples) and models whose fingerprint has no revision (the weights could change).

Served models (API backends): the `served` table remembers, per model name (the
fingerprint without its revision), which identity was last seen and the last
`system_fingerprint` its answers carried, so that a change can be announced and the old
answers dropped (see `lmaudit.core.identity`).

A file that is not an lmaudit cache (damaged, or another program's database) raises
`CacheDamaged` naming the file; `remove_cache_file` deletes exactly that file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from lmaudit.core.serialize import mark_cached, response_from_dict, response_to_dict
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    LmauditError,
    Request,
    Response,
    request_key,
)

CACHE_FILE = "requests.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers ("
    " key TEXT PRIMARY KEY, model TEXT NOT NULL, kind TEXT NOT NULL,"
    " body TEXT NOT NULL, created REAL NOT NULL) WITHOUT ROWID"
)
_SERVED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS served ("
    " name TEXT PRIMARY KEY, model TEXT NOT NULL, system_fingerprint TEXT)"
)
_COLUMNS = {
    "answers": ["key", "model", "kind", "body", "created"],
    "served": ["name", "model", "system_fingerprint"],
}
_LOOKUP_CHUNK = 500


def default_cache_dir() -> Path:
    """`$LMAUDIT_CACHE_DIR`, else `<LMAUDIT_HOME or ~/.cache/lmaudit>/cache`."""
    explicit = os.environ.get("LMAUDIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    from lmaudit.lab.paths import lmaudit_home

    return lmaudit_home() / "cache"


class CacheDamaged(LmauditError):
    """The cache file is damaged or belongs to another program; `path` names it."""

    def __init__(self, path: Path, detail: str) -> None:
        where = f" --cache-dir {path.parent}" if path.parent != default_cache_dir() else ""
        super().__init__(
            f"the request cache {path} is not readable as an lmaudit cache ({detail}); "
            f"delete it with `lmaudit cache clear{where}`, or run with --no-cache"
        )
        self.path = path


def remove_cache_file(path: Path) -> list[Path]:
    """Delete the cache file `path` and its SQLite side files (-wal, -shm); those removed."""
    removed = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            candidate.unlink()
            removed.append(candidate)
    return removed


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Raise `CacheDamaged` unless every table is one of ours with our columns."""
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info('{table}')")]
        if _COLUMNS.get(table) != columns:
            raise CacheDamaged(path, f"foreign table {table!r}")


def is_cacheable(fingerprint: Fingerprint, request: Request) -> bool:
    if fingerprint.revision in ("", "unknown"):
        return False
    if isinstance(request, GenerateRequest):
        params = request.params
        return params.greedy or params.seed is not None
    return True


def cache_key(fingerprint: Fingerprint, request: Request) -> str:
    """sha256 of the fingerprint and the request (its generation parameters included)."""
    text = fingerprint.key() + "\n" + request_key(request)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestCache:
    """A SQLite store of answers. Use as a context manager or call `close()`."""

    def __init__(self, directory: Path, *, busy_timeout_s: float = 120.0) -> None:
        self.directory = Path(directory).expanduser()
        self.path = self.directory / CACHE_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise LmauditError(
                f"cannot open the request cache in {self.directory}: {error} "
                "(choose another --cache-dir or pass --no-cache)"
            ) from error
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            _check_schema(self._db, self.path)
            self._write(lambda db: (db.execute(_SCHEMA), db.execute(_SERVED_SCHEMA)))
        except sqlite3.DatabaseError as error:
            self._db.close()
            if _is_busy(error):
                raise LmauditError(f"the request cache {self.path} is busy: {error}") from error
            raise CacheDamaged(self.path, str(error)) from error
        except CacheDamaged:
            self._db.close()
            raise
        except UnicodeDecodeError as error:  # damaged bytes inside the schema's text
            self._db.close()
            raise CacheDamaged(self.path, f"text that is not UTF-8 ({error})") from error
        except OSError as error:
            raise LmauditError(
                f"cannot open the request cache in {self.directory}: {error} "
                "(choose another --cache-dir or pass --no-cache)"
            ) from error

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite damage (and unreadable stored answers) into `CacheDamaged`."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            if _is_busy(error):
                raise LmauditError(f"the request cache {self.path} is busy: {error}") from error
            raise CacheDamaged(self.path, str(error)) from error
        except (ValueError, KeyError, TypeError) as error:
            raise CacheDamaged(self.path, f"unreadable stored answer: {error}") from error

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The cached answers among `keys` (marked `usage.cached`)."""
        found: dict[str, Response] = {}
        with self._guard():
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = list(keys[start : start + _LOOKUP_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, body FROM answers WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, body in rows:
                    found[key] = mark_cached(response_from_dict(json.loads(body)))
        return found

    def put_many(self, entries: Iterable[tuple[str, str, Response]]) -> int:
        """Store `(key, model fingerprint key, answer)` triples in one transaction."""
        now = time.time()
        rows = [
            (
                key,
                model,
                type(response).__name__,
                json.dumps(response_to_dict(response), separators=(",", ":")),
                now,
            )
            for key, model, response in entries
        ]
        if rows:
            with self._guard():
                self._write(
                    lambda db: db.executemany(
                        "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)", rows
                    )
                )
        return len(rows)

    def stats(self) -> Mapping[str, int]:
        """Entries per model fingerprint."""
        with self._guard():
            rows = self._db.execute("SELECT model, COUNT(*) FROM answers GROUP BY model").fetchall()
        return {model: int(count) for model, count in rows}

    def clear(self, model: str | None = None, *, before: float | None = None) -> int:
        """Delete every entry (or one model's; with `before`, only those stored before that
        Unix time); returns how many went."""
        deleted = 0
        where: list[str] = []
        args: list[object] = []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if before is not None:
            where.append("created < ?")
            args.append(before)
        sql = "DELETE FROM answers" + (" WHERE " + " AND ".join(where) if where else "")

        def delete(db: sqlite3.Connection) -> None:
            nonlocal deleted
            deleted = db.execute(sql, args).rowcount

        with self._guard():
            self._write(delete)
        return deleted

    def served(self, name: str) -> tuple[str, str | None] | None:
        """(model fingerprint key, last system_fingerprint) last recorded for a model name."""
        with self._guard():
            row = self._db.execute(
                "SELECT model, system_fingerprint FROM served WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def record_served(self, name: str, model: str, system_fingerprint: str | None) -> None:
        """Remember the identity (and system_fingerprint) now served under `name`."""
        with self._guard():
            self._write(
                lambda db: db.execute(
                    "INSERT OR REPLACE INTO served VALUES (?, ?, ?)",
                    (name, model, system_fingerprint),
                )
            )

    def close(self) -> None:
        self._db.close()

    def _write(self, action: Callable[[sqlite3.Connection], object]) -> None:
        """Run `action(db)` inside BEGIN IMMEDIATE ... COMMIT, retrying a busy database."""
        delay = 0.05
        for attempt in range(20):
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if attempt == 19:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            try:
                action(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return


def _is_busy(error: sqlite3.Error) -> bool:
    text = str(error)
    return "locked" in text or "busy" in text
