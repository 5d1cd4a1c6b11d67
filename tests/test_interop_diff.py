"""`lmaudit diff`: planted prompt, extraction and comparison changes are attributed to the
stage where the runs first part, and the cause shares add up to the score gap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.store import RunWriter, base_manifest, load_run
from lmaudit.core.types import LmauditError, SampleRecord
from lmaudit.interop.diff import diff_runs, first_difference

ITEMS = [(f"q{i}", f"Question: what is {i} + {i}?\nAnswer:", str(2 * i)) for i in range(10)]


def _score(tmp: Path, name: str, rows: list[dict[str, str]], scorer: str) -> Path:
    responses = tmp / f"{name}.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp / name
    assert main(["score", "--task", "gsm8k", "--scorer", scorer,
                 "--responses", str(responses), "--out", str(out)]) == 0
    return out


def _rows(prompt_edit: set[int] = frozenset(), wrong: set[int] = frozenset()  # type: ignore[assignment]
          ) -> list[dict[str, str]]:
    rows = []
    for i, (sid, prompt, target) in enumerate(ITEMS):
        if i in prompt_edit:
            prompt = prompt.replace("Answer:", "Answer: ")
        answer = str(int(target) + 1) if i in wrong else target
        rows.append({"id": sid, "prompt": prompt, "target": target,
                     "response": f"It is {answer}"})
    return rows


def test_planted_extraction_change_is_attributed_to_extraction(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    rows = _rows(wrong={0, 1})
    a = _score(tmp_path, "contains", rows, "contains")  # extracts the target when present
    b = _score(tmp_path, "exact", rows, "exact")  # extracts the whole response
    capsys.readouterr()
    diff = diff_runs(load_run(a), load_run(b))
    assert diff.metric == "acc" and diff.aligned_by == "id"
    assert (diff.mean_a, diff.mean_b) == (0.8, 0.0)
    assert [(c.cause, c.count) for c in diff.causes] == [("extracted", 8)]
    assert diff.causes[0].gap == pytest.approx(diff.gap)
    assert diff.samples[0].detail == "'4' vs 'It is 4'"
    assert main(["diff", str(a), str(b), "--json", str(tmp_path / "d.json")]) == 0
    text = capsys.readouterr().out
    assert "extracted" in text and "-0.8000" in text
    stored = json.loads((tmp_path / "d.json").read_text())
    assert stored["causes"][0]["count"] == 8 and len(stored["samples"]) == 8


def test_planted_prompt_change_is_attributed_to_the_prompt(tmp_path: Path) -> None:
    a = _score(tmp_path, "a", _rows(), "contains")
    # a changed prompt on items 3 and 4 makes the model answer them wrongly; item 7 has the
    # same prompt but another response (sampling noise): a response difference
    b = _score(tmp_path, "b", _rows(prompt_edit={3, 4, 5}, wrong={3, 4, 7}), "contains")
    diff = diff_runs(load_run(a), load_run(b))
    causes = {c.cause: (c.count, c.gap) for c in diff.causes}
    assert causes == {"prompt": (2, pytest.approx(-0.2)), "response": (1, pytest.approx(-0.1))}
    # item 5: prompt changed, still right: counted apart, no share of the gap
    assert [(c.cause, c.count) for c in diff.same_score_differences] == [("prompt", 1)]
    prompt = next(d for d in diff.samples if d.cause == "prompt")
    assert prompt.key == "q3"
    assert prompt.detail == ("char 32: A […at is 3 + 3?\\nAnswer:] "
                             "vs B […at is 3 + 3?\\nAnswer: ]")  # just after "Answer:"


def _write(out: Path, records: list[SampleRecord]) -> Path:
    writer = RunWriter(out, base_manifest(kind="score", task="t"))
    writer.append(records)
    writer.finish({"metrics": {"acc": {"value": 0.0}}})
    return out


def test_content_alignment_tokens_and_comparison(tmp_path: Path) -> None:
    def record(sid: str, prompt: str, acc: float, extra: dict[str, object]) -> SampleRecord:
        return SampleRecord(sid, prompt, "B", "B", "B", {"acc": acc}, extra=extra)

    a = _write(tmp_path / "a", [record("0", "p one", 1.0, {"prompt_token_ids": [1, 2, 3]}),
                                record("1", "p  two", 1.0, {}),
                                record("2", "p three", 1.0, {}),
                                record("3", "p four", 1.0, {}),
                                record("4", "p four", 0.0, {})])
    b = _write(tmp_path / "b", [record("doc-0", "p one", 0.0, {"prompt_token_ids": [1, 5, 3]}),
                                record("doc-1", "p two", 0.0, {}),
                                record("doc-9", "elsewhere", 0.0, {}),
                                record("doc-3", "p four", 0.0, {}),
                                record("doc-4", "p four", 0.0, {})])
    diff = diff_runs(load_run(a), load_run(b))
    # two documents share the prompt "p four": they pair up in order
    assert diff.aligned_by == "content" and diff.n_aligned == 4
    assert (diff.n_only_a, diff.n_only_b) == (1, 1)
    assert [(d.sample_id_b, d.cause) for d in diff.samples] == [
        ("doc-0", "tokens"), ("doc-1", "prompt"), ("doc-3", "comparison")]
    assert diff.samples[0].detail == "token 1: [2, 3] vs [5, 3]"
    with pytest.raises(LmauditError, match="not per-sample in both runs"):
        diff_runs(load_run(a), load_run(b), "acc_norm")


def test_first_difference_shows_context() -> None:
    assert first_difference("same", "same") == ""
    assert first_difference("abc", "abcd") == "char 3: A [abc] vs B [abcd]"
    assert first_difference("x" * 50 + "a", "x" * 50 + "b", context=3).startswith("char 50:")
