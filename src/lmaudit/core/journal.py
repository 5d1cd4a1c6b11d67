"""The run journal: every answer appended to `responses.jsonl` the moment it arrives.

One line per answered request: `{"k": request_key, "r": response}` (plus `"c": 1` when
the answer came from the request cache, so that cost sums stay right across resumes).
Each line is written and flushed at once (so it survives `kill -9` of the process) and
fsynced at most every `fsync_interval_s` seconds and on close (so a power cut loses at
most that interval).
A resumed run reads the journal and sends only what it does not hold. A line torn by a
crash can only be the last one; reading drops it and the next append overwrites it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lmaudit.core.serialize import mark_cached, response_from_dict, response_to_dict
from lmaudit.core.types import LmauditError, Response

JOURNAL = "responses.jsonl"


def read_journal(path: Path) -> tuple[dict[str, Response], int]:
    """The answers a journal holds and the byte length of its intact prefix.

    Only the final line may be torn (a crash while writing it): it is dropped. A malformed
    line before it means the file was damaged by something other than a crash and raises
    `LmauditError` naming the line.
    """
    answers: dict[str, Response] = {}
    if not path.exists():
        return answers, 0
    data = path.read_bytes()
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # the file ends with a newline: no unterminated tail
    good = 0
    for number, piece in enumerate(pieces, start=1):
        final = number == len(pieces)
        terminated = not final or data.endswith(b"\n")
        if not terminated:
            break  # torn by a crash, even if it parses: dropped, and the answer asked again
        try:
            entry = json.loads(piece) if piece else None
            if entry is not None:
                if not isinstance(entry, dict) or not isinstance(entry.get("k"), str):
                    raise TypeError("expected an object with a string `k`")
                answer = response_from_dict(entry["r"])
                answers[entry["k"]] = mark_cached(answer) if entry.get("c") else answer
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            if final:
                break
            detail = str(error)[:200] or type(error).__name__
            raise LmauditError(
                f"{path}:{number}: unreadable journal line ({detail}); move the file away to "
                "ask those requests again"
            ) from error
        good += len(piece) + 1
    return answers, good


class ResponseJournal:
    """Appends answers to `run_dir/responses.jsonl`; reopening continues after the intact prefix."""

    def __init__(self, run_dir: Path, *, fsync_interval_s: float = 0.5) -> None:
        self.path = Path(run_dir) / JOURNAL
        self.answers, good = read_journal(self.path)
        self._handle = open(self.path, "ab")  # noqa: SIM115
        self._handle.truncate(good)
        self._fsync_interval = fsync_interval_s
        self._last_sync = time.monotonic()

    def append(self, key: str, response: Response) -> None:
        entry: dict[str, object] = {"k": key, "r": response_to_dict(response)}
        if response.usage is not None and response.usage.cached:
            entry["c"] = 1
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._handle.write(line.encode("utf-8"))
        self._handle.flush()
        now = time.monotonic()
        if now - self._last_sync >= self._fsync_interval:
            os.fsync(self._handle.fileno())
            self._last_sync = now

    def close(self) -> None:
        if self._handle.closed:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
