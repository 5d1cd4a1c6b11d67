"""The request cache: answers keyed by (model fingerprint, request, generation parameters).

SQLite in WAL mode, so readers never block the writer. Writes go in batches inside
`BEGIN IMMEDIATE` transactions: a process takes the write lock before it reads anything
in the transaction, so two writers never deadlock on a lock upgrade (the cause of most
`database is locked` errors); a busy writer waits up to `busy_timeout_s` for the other.
Within a process one thread (the runner's) owns the connection.

What is not cached: sampled generations without a seed (a second run should draw new
samples) and models whose fingerprint has no revision (the weights could change).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
_LOOKUP_CHUNK = 500


def default_cache_dir() -> Path:
    """`$LMAUDIT_CACHE_DIR`, else `<LMAUDIT_HOME or ~/.cache/lmaudit>/cache`."""
    explicit = os.environ.get("LMAUDIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    from lmaudit.lab.paths import lmaudit_home

    return lmaudit_home() / "cache"


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
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / CACHE_FILE
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._write(lambda db: db.execute(_SCHEMA))
        except (OSError, sqlite3.Error) as error:
            raise LmauditError(
                f"cannot open the request cache in {self.directory}: {error} "
                "(choose another --cache-dir or pass --no-cache)"
            ) from error

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        """The cached answers among `keys` (marked `usage.cached`)."""
        found: dict[str, Response] = {}
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
            self._write(
                lambda db: db.executemany(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)", rows
                )
            )
        return len(rows)

    def stats(self) -> Mapping[str, int]:
        """Entries per model fingerprint."""
        rows = self._db.execute("SELECT model, COUNT(*) FROM answers GROUP BY model").fetchall()
        return {model: int(count) for model, count in rows}

    def clear(self, model: str | None = None) -> int:
        """Delete every entry (or one model's); returns how many went."""
        deleted = 0

        def delete(db: sqlite3.Connection) -> None:
            nonlocal deleted
            if model is None:
                deleted = db.execute("DELETE FROM answers").rowcount
            else:
                deleted = db.execute("DELETE FROM answers WHERE model = ?", (model,)).rowcount

        self._write(delete)
        return deleted

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
