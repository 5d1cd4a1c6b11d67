"""The request cache (SQLite WAL) and the run journal: round trips, torn lines, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from lmaudit.core.cache import RequestCache, cache_key, is_cacheable
from lmaudit.core.journal import JOURNAL, ResponseJournal, read_journal
from lmaudit.core.serialize import response_from_dict, response_to_dict
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingLoglikelihoodResult,
    Usage,
)

FP = Fingerprint("openai-completions", "m@http://x/v1", "api", "n/a")
ANSWERS = [
    LoglikelihoodResult(-1.25, True, 3, (-0.5, -0.25, -0.5), usage=Usage(7, 0, 0.01)),
    RollingLoglikelihoodResult(-3.0000000000000004, 2, (-1.0, -2.0000000000000004)),
    Generation("forty-two ✓", "length", 5, 9, usage=Usage(5, 9, 0.2)),
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_serialization_round_trips_exactly(answer: object) -> None:
    back = response_from_dict(response_to_dict(answer))  # type: ignore[arg-type]
    assert back == answer
    assert back.usage == answer.usage  # type: ignore[attr-defined]


def test_cache_hit_returns_the_answer_marked_cached(tmp_path: Path) -> None:
    request = LoglikelihoodRequest("The sky is", " blue")
    with RequestCache(tmp_path) as cache:
        key = cache_key(FP, request)
        assert cache.get_many([key]) == {}
        cache.put_many([(key, FP.key(), ANSWERS[0])])
    with RequestCache(tmp_path) as cache:
        hit = cache.get_many([key])[key]
        assert hit == ANSWERS[0]
        assert hit.usage is not None and hit.usage.cached and hit.usage.prompt_tokens == 7
        assert cache.stats() == {FP.key(): 1}
        assert cache.clear() == 1 and cache.get_many([key]) == {}
    mode = sqlite3.connect(tmp_path / "requests.sqlite").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"


def test_cache_key_depends_on_model_request_and_generation_params() -> None:
    base = GenerateRequest(prompt="2+2=", params=GenerationParams(max_tokens=8))
    longer = GenerateRequest(prompt="2+2=", params=GenerationParams(max_tokens=9))
    other = Fingerprint("openai-completions", "m2@http://x/v1", "api", "n/a")
    keys = {cache_key(FP, base), cache_key(FP, longer), cache_key(other, base)}
    assert len(keys) == 3
    assert cache_key(FP, base) == cache_key(FP, GenerateRequest(prompt="2+2=", params=base.params))


def test_unseeded_sampling_and_unknown_revisions_are_not_cached() -> None:
    sampled = GenerateRequest(prompt="x", params=GenerationParams(temperature=0.7))
    seeded = GenerateRequest(prompt="x", params=GenerationParams(temperature=0.7, seed=3))
    assert not is_cacheable(FP, sampled)
    assert is_cacheable(FP, seeded)
    assert not is_cacheable(Fingerprint("hf", "m", "unknown", "float32"), seeded)


def _hammer(directory: str, worker: int, n: int) -> None:
    with RequestCache(Path(directory)) as cache:
        for i in range(n):
            request = LoglikelihoodRequest(f"ctx {worker} {i}", " y")
            cache.put_many([(cache_key(FP, request), FP.key(), ANSWERS[0])])
            cache.get_many([cache_key(FP, request)])


def test_four_processes_writing_at_once_never_see_a_locked_database(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, 150)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with RequestCache(tmp_path) as cache:
        assert cache.stats() == {FP.key(): 600}


def test_unwritable_cache_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LmauditError, match=r"cannot open the request cache .*--no-cache"):
        RequestCache(blocker / "cache")


def test_journal_survives_a_torn_last_line_and_continues(tmp_path: Path) -> None:
    journal = ResponseJournal(tmp_path)
    journal.append("a", ANSWERS[0])
    journal.append("b", ANSWERS[2])
    journal.close()
    path = tmp_path / JOURNAL
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"k":"c","r":{"t":"g","x":"par')  # killed mid-write
    answers, good = read_journal(path)
    assert set(answers) == {"a", "b"} and good == len(intact)
    journal = ResponseJournal(tmp_path)
    assert set(journal.answers) == {"a", "b"}
    journal.append("c", ANSWERS[1])
    journal.close()
    answers, _ = read_journal(path)
    assert answers == {"a": ANSWERS[0], "b": ANSWERS[2], "c": ANSWERS[1]}


def test_journal_drops_an_unterminated_last_line_even_if_it_parses(tmp_path: Path) -> None:
    journal = ResponseJournal(tmp_path)
    journal.append("a", ANSWERS[0])
    journal.close()
    path = tmp_path / JOURNAL
    path.write_bytes(path.read_bytes()[:-1])  # the newline never reached the file
    assert read_journal(path) == ({}, 0)


def test_journal_damaged_in_the_middle_names_the_line(tmp_path: Path) -> None:
    (tmp_path / JOURNAL).write_text('{"k":"a"}\nnot json\n{"k":"b"}\n')
    with pytest.raises(LmauditError, match=r"responses.jsonl:1: unreadable journal line"):
        read_journal(tmp_path / JOURNAL)


def test_journal_keeps_the_cached_mark(tmp_path: Path) -> None:
    from lmaudit.core.serialize import mark_cached

    journal = ResponseJournal(tmp_path)
    journal.append("a", mark_cached(ANSWERS[2]))
    journal.append("b", ANSWERS[2])
    journal.close()
    answers, _ = read_journal(tmp_path / JOURNAL)
    assert answers["a"].usage is not None and answers["a"].usage.cached
    assert answers["b"].usage is not None and not answers["b"].usage.cached


def test_cache_command_lists_and_clears(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmaudit.cli import main

    with RequestCache(tmp_path) as cache:
        request = LoglikelihoodRequest("a", " b")
        cache.put_many([(cache_key(FP, request), FP.key(), ANSWERS[0])])
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    assert f"1  {FP.key()}" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "deleted 1 cached answers" in capsys.readouterr().out
