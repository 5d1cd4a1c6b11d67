"""lm-eval task directories, groups (nested, inline, with aggregate_metric_list) and tags:
members run as one suite and group aggregates follow lm-eval 0.4.13 (size-weighted or
plain mean of the task means, over every task below the group). Planted answers give
values derived by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lm_eval_task_files import QUIZ, write_tasks
from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.types import Generation, LmauditError, LoglikelihoodResult, SampleRecord
from lmaudit.interop.lm_eval_groups import build_index
from lmaudit.tasks.registry import load_task

GROUPS = """\
group: all
task:
  - quizzes
  - sums_ll
aggregate_metric_list:
  - metric: acc
    weight_by_size: {weighted}
  - metric: perplexity
"""
OUTER = """\
group: outer
task:
  - group: inner
    task: [quiz_short]
    aggregate_metric_list: [{metric: acc}]
  - sums_gen
  - task: quiz_mc
    num_fewshot: 1
aggregate_metric_list:
  - metric: acc
    weight_by_size: false
  - metric: exact_match
"""
CORRECT = {"quiz_mc": {0, 1, 2, 3}, "quiz_short": {0}, "sums_ll": {0, 1, 2},
           "sums_gen": {0, 5}}


def _write(root: Path, weighted: bool = True) -> dict[str, Path]:
    files = write_tasks(root)
    with files["quiz_mc"].open("a") as handle:
        handle.write("tag: quizzes\n")
    short = root / "short.jsonl"
    short.write_text("".join(json.dumps(r) + "\n" for r in QUIZ[:3]))
    (root / "quiz_short.yaml").write_text(
        f"include: quiz_mc.yaml\ntask: quiz_short\ndataset_kwargs:\n  data_files:\n"
        f"    test: {short}\n")
    (root / "groups").mkdir()
    files["all"] = root / "groups" / "all.yaml"
    files["all"].write_text(GROUPS.format(weighted=str(weighted).lower()))
    files["outer"] = root / "outer.yaml"
    files["outer"].write_text(OUTER)
    return files


def _planted(task: object) -> list[SampleRecord]:
    """Records with the answers of CORRECT: right for those documents, wrong otherwise."""
    records = []
    for sample in task.samples():  # type: ignore[attr-defined]
        member, doc = sample.id.split("/")
        right = int(doc) in CORRECT[member]
        if member == "sums_gen":
            answer = f"#### {sample.target}" if right else "#### -1"
            responses: list[object] = [Generation(answer)]
        elif member == "sums_ll":
            responses = [LoglikelihoodResult(-1.0, right, 1)]
        else:
            responses = [LoglikelihoodResult(-1.0 if (i == sample.target) == right else -9.0,
                                             False, 1) for i in range(len(sample.choices))]
        records.append(task.score(sample, responses))  # type: ignore[attr-defined]
    return records


def test_index_kinds_and_tags(tmp_path: Path) -> None:
    _write(tmp_path)
    index, problems = build_index(tmp_path)
    kinds = {name: entry.kind for name, entry in index.items()}
    assert kinds == {"all": "group", "outer": "group", "quiz_mc": "task",
                     "quiz_short": "task", "sums_gen": "task", "sums_ll": "task",
                     "quizzes": "tag"}  # _base.yaml (no task, no group) is skipped
    assert index["quizzes"].members == ("quiz_mc", "quiz_short") and problems == []


def test_directory_runs_every_task(tmp_path: Path) -> None:
    _write(tmp_path)
    suite = load_task(f"lm-eval:{tmp_path}")
    assert suite.name == tmp_path.name
    assert [m.name for m in suite.metrics][:3] == ["quiz_mc/acc", "quiz_mc/acc_norm",
                                                   "quiz_short/acc"]
    samples = suite.samples()
    assert len(samples) == 6 + 3 + 6 + 6 and samples[0].id == "quiz_mc/0"
    assert samples[6].id == "quiz_short/0" and samples[6].input == samples[0].input
    one = load_task(f"lm-eval:{tmp_path}", {"tasks": "sums_gen"})
    assert one.name == "sums_gen" and one.samples()[0].id == "0"  # alone: a plain task
    tagged = load_task(f"lm-eval:{tmp_path}", {"tasks": "quizzes", "limit": "2"})
    assert [s.id for s in tagged.samples()] == ["quiz_mc/0", "quiz_mc/1", "quiz_short/0",
                                                 "quiz_short/1"]  # a tag: its tasks, no group
    assert tagged.metrics[0].name == "quiz_mc/acc"
    with pytest.raises(LmauditError, match="limit must be positive"):
        load_task(f"lm-eval:{tmp_path}", {"limit": "0"}).samples()


@pytest.mark.parametrize("weighted", [True, False])
def test_group_aggregate_over_a_tag_and_a_task(tmp_path: Path, weighted: bool) -> None:
    files = _write(tmp_path, weighted)
    with pytest.raises(LmauditError, match="no task, group or tag named 'quizzes'"):
        load_task(f"lm-eval:{files['all']}")  # members are looked up in the file's folder
    suite = load_task(f"lm-eval:{files['all']}", {"include_path": str(tmp_path)})
    assert suite.name == "all"
    metrics = aggregate_records(suite.metrics, _planted(suite))
    assert metrics["quiz_mc/acc"].value == pytest.approx(4 / 6)
    assert metrics["quiz_short/acc"].value == pytest.approx(1 / 3)
    assert metrics["sums_ll/acc"].value == pytest.approx(3 / 6)
    # lm-eval: sum(value * size) / sum(size), or with weight_by_size false the plain mean
    expected = (4 + 1 + 3) / (6 + 3 + 6) if weighted else (4 / 6 + 1 / 3 + 3 / 6) / 3
    group = metrics["all/acc"]
    assert group.value == pytest.approx(expected, abs=1e-12)
    assert group.ci_low < expected < group.ci_high
    assert "all/perplexity" not in metrics  # ratio metrics are not aggregated ...
    assert any("perplexity is a ratio metric" in n for n in suite.notes())  # ... and said


def test_nested_and_inline_groups_with_overrides(tmp_path: Path) -> None:
    files = _write(tmp_path)
    suite = load_task(f"lm-eval:{files['outer']}")
    names = [m.name for m in suite.metrics]
    assert names[:4] == ["outer/acc", "outer/exact_match,flexible-extract",
                         "outer/exact_match,strict-match", "outer::inner/acc"]
    quiz = next(s for s in suite.samples() if s.id == "quiz_mc/0")
    assert quiz.input.count("Answer:") == 2  # the group's num_fewshot: 1 override
    metrics = aggregate_records(suite.metrics, _planted(suite))
    # every task below, nested ones included; weight_by_size false: the plain mean
    assert metrics["outer/acc"].value == pytest.approx((1 / 3 + 4 / 6) / 2)
    assert metrics["outer::inner/acc"].value == pytest.approx(1 / 3)
    assert metrics["outer/exact_match,strict-match"].value == pytest.approx(2 / 6)
    assert math.isclose(metrics["sums_gen/exact_match,strict-match"].value, 2 / 6)


def test_group_errors_are_one_line(tmp_path: Path) -> None:
    files = _write(tmp_path)
    with pytest.raises(LmauditError, match="no task, group or tag named 'nope'"):
        load_task(f"lm-eval:{tmp_path}", {"tasks": "nope"})
    with pytest.raises(LmauditError, match="task 'quiz_mc' is selected twice"):
        load_task(f"lm-eval:{tmp_path}", {"tasks": "all,quiz_mc"})
    files["all"].write_text(GROUPS.format(weighted="true") + "    aggregation: median\n")
    assert "aggregation: median" in files["all"].read_text().splitlines()[-1]
    with pytest.raises(LmauditError, match="aggregation 'median' is not supported"):
        load_task(f"lm-eval:{files['all']}", {"include_path": str(tmp_path)})
    with pytest.raises(LmauditError, match="selects names in a directory"):
        load_task(f"lm-eval:{files['quiz_mc']}", {"tasks": "quiz_mc"})


def test_a_group_that_contains_itself_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("group: ga\ntask:\n  - gb\n")
    (tmp_path / "b.yaml").write_text("group: gb\ntask:\n  - ga\n")
    (tmp_path / "c.yaml").write_text("group: gc\ntask:\n  - task: gc\n")
    with pytest.raises(LmauditError, match=r"group ga contains itself \(ga -> gb -> ga\)"):
        load_task(f"lm-eval:{tmp_path / 'a.yaml'}")
    with pytest.raises(LmauditError, match=r"group gc contains itself \(gc -> gc\)"):
        load_task(f"lm-eval:{tmp_path}", {"tasks": "gc"})
