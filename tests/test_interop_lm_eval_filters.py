"""lm-eval's built-in filters, one planted case each with values derived by hand from
lm-eval 0.4.13's documented behaviour, and `metric_list` choosing the reported metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lm_eval_task_files import write_tasks
from lmaudit.core.types import Generation, LmauditError, LoglikelihoodResult
from lmaudit.interop.lm_eval_filter_steps import build_filter, format_span, multi_choice_regex
from lmaudit.tasks.registry import load_task


def _step(spec: dict[str, object], responses: list[object], doc: dict[str, object] | None = None
          ) -> list[object]:
    return build_filter(spec)(responses, doc or {})


def test_regex_take_first_and_case_filters() -> None:
    # the default pattern's class [0-9.,] takes the comma too
    assert _step({"function": "regex"}, ["so #### -3.5, not #### 7"]) == ["-3.5,"]
    assert _step({"function": "regex", "regex_pattern": r"(\d+)", "group_select": -1},
                 ["1 then 22"]) == ["22"]
    assert _step({"function": "regex", "fallback": "none"}, ["no hashes"]) == ["none"]
    assert _step({"function": "take_first"}, ["a", "b"]) == ["a"]
    assert _step({"function": "lowercase"}, ["AbC"]) == ["abc"]
    assert _step({"function": "uppercase"}, ["AbC"]) == ["ABC"]


def test_take_first_k_and_majority_vote() -> None:
    assert _step({"function": "take_first_k", "k": 2}, ["a", "b", "c"]) == ["a", "b"]
    with pytest.raises(LmauditError, match="take_first_k: k=2 needs 2 responses"):
        _step({"function": "take_first_k", "k": 2}, ["a"])
    assert _step({"function": "majority_vote"}, ["x", "y", "y", "x", "y"]) == ["y"]
    assert _step({"function": "majority_vote"}, ["p", "q", "q", "p"]) == ["p"]  # tie: first


def test_multi_choice_regex_three_fallbacks() -> None:
    doc = {"choices": ["Paris", "Paris Hilton", "Rome"]}
    step = {"function": "multi_choice_regex"}
    # 1. the regex (default: "#### number") finds nothing; 2. a choice's text: the longer
    # "Paris Hilton" wins over its prefix "Paris"
    assert _step(step, ["I think it is Paris Hilton."], doc) == ["(B)"]
    assert _step(step, ["Paris, surely"], doc) == ["(A)"]
    # 3. ": LETTER" among the choices' letters
    assert _step(step, ["Answer: C"], doc) == ["(C)"]
    assert _step(step, ["Answer: D"], doc) == ["[invalid]"]
    # case only ignored when asked (no colon either: nothing matches)
    assert _step(step, ["it's ROME!"], doc) == ["[invalid]"]
    assert _step({**step, "ignore_case": True}, ["it's ROME!"], doc) == ["(C)"]
    # punctuation removed from response and choices before the text match
    assert multi_choice_regex(ignore_punctuation=True)("R.o.m.e", ["Rome"]) == "(A)"
    # a matching regex wins, its group as written (no letter conversion)
    assert _step({**step, "regex_pattern": r"\(([A-C])\)"}, ["(B) Paris"], doc) == ["B"]
    with pytest.raises(LmauditError, match="no `choices` field"):
        _step(step, ["x"], {"options": []})


def test_format_span() -> None:
    text = "Person: John Smith, Mary\nLocation: Kenya, none$$Org: UN$$"
    # lower-case, labels renamed (person->PER, location->LOC, org->ORG), $$->$, trailing $
    # dropped, newline->$, each "LABEL: a, b" split on commas, "none" left out
    assert format_span(text) == "per: john smith $ per: mary $ loc: kenya $ org: un"
    assert _step({"function": "format_span"}, ["date: today"]) == ["date: today"]
    assert format_span("nothing labelled") == ""


def test_map_and_unknown_filter() -> None:
    assert _step({"function": "map", "mapping_dict": {"yes": 1}, "default_value": 0},
                 ["yes", "no"]) == [1, 0]
    with pytest.raises(LmauditError, match=r"filter 'arg_max' is not supported yet"):
        build_filter({"function": "arg_max"})


def _gen_task(tmp_path: Path, filters: str, extra: str = "") -> Path:
    files = write_tasks(tmp_path)
    text = files["sums_gen"].read_text()
    head, _, _ = text.partition("filter_list:")
    files["sums_gen"].write_text(head + filters + extra)
    return files["sums_gen"]


def test_custom_filter_is_code(tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text(
        "def last_word(resps, docs):\n"
        "    return [[r.split()[-1] for r in rs] for rs in resps]\n")
    file = _gen_task(tmp_path, "filter_list:\n  - name: last\n    filter:\n"
                               "      - function: custom\n"
                               "        filter_fn: !function hooks.last_word\n"
                               "      - function: take_first\n")
    with pytest.raises(LmauditError, match=r"filter_list\[0\]\.filter\[0\]\.filter_fn is "
                                           r"`!function hooks\.last_word`.*--trust-task-code"):
        load_task(f"lm-eval:{file}")
    task = load_task(f"lm-eval:{file}", {"trust_task_code": "yes"})
    sample = task.samples()[2]  # 10 + 5
    record = task.score(sample, [Generation("so it is 15")])
    assert record.extracted == "15" and record.metrics == {"exact_match,last": 1.0}
    assert [m.name for m in task.metrics] == ["exact_match,last"]


def test_generation_task_passes_the_document_to_multi_choice_regex(tmp_path: Path) -> None:
    data = tmp_path / "capitals.jsonl"
    data.write_text('{"q": "Capital of Italy?", "choices": ["Paris", "Rome"], "a": "(B)"}\n')
    file = tmp_path / "capitals.yaml"
    file.write_text(
        f"task: capitals\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n"
        "filter_list:\n  - name: letter\n    filter:\n"
        "      - function: multi_choice_regex\n      - function: take_first\n")
    task = load_task(f"lm-eval:{file}")
    sample = task.samples()[0]
    record = task.score(sample, [Generation("It must be Rome.")])
    assert record.extracted == "(B)" and record.metrics == {"exact_match,letter": 1.0}
    assert task.score(sample, [Generation("Paris")]).metrics == {"exact_match,letter": 0.0}


def test_metric_list_restricts_and_renames(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    mc = load_task(f"lm-eval:{files['quiz_mc']}")  # metric_list: acc, acc_norm
    assert [m.name for m in mc.metrics] == ["acc", "acc_norm"]
    sample = mc.samples()[0]  # blue (4 chars, the target), green (5), red (3)
    # acc: argmax(-4.4, -6.0, -4.0) is red: 0; lm-eval's acc_norm divides by characters:
    # -1.1, -1.2, -1.33, blue: 1 (lmaudit's own per-byte acc_norm is not reported)
    record = mc.score(sample, [LoglikelihoodResult(-4.4, False, 1),
                               LoglikelihoodResult(-6.0, False, 1),
                               LoglikelihoodResult(-4.0, False, 1)])
    assert record.metrics == {"acc": 0.0, "acc_norm": 1.0}
    text = files["quiz_mc"].read_text().replace(
        "  - metric: acc_norm\n", "  - metric: acc_bytes\n  - metric: brier_score\n")
    files["quiz_mc"].write_text(text)
    mc = load_task(f"lm-eval:{files['quiz_mc']}")
    assert [(m.name, m.higher_is_better) for m in mc.metrics] == [
        ("acc", True), ("acc_bytes", True), ("brier_score", False)]
    record = mc.score(mc.samples()[1], [LoglikelihoodResult(-5.0, False, 1),  # 3, 8, 11
                                         LoglikelihoodResult(-1.0, False, 1),
                                         LoglikelihoodResult(-5.0, False, 1)])
    # per byte: -5, -1, -2.5: "8" (the target); Brier over softmax(-5, -1, -5)
    total = 2 * math.exp(-5) + math.exp(-1)
    p_wrong, p_right = math.exp(-5) / total, math.exp(-1) / total
    assert record.metrics["acc"] == record.metrics["acc_bytes"] == 1.0
    assert record.metrics["brier_score"] == pytest.approx(2 * p_wrong ** 2 + (1 - p_right) ** 2)
    assert set(record.metrics) == {"acc", "acc_bytes", "brier_score"}
    files["quiz_mc"].write_text(text.replace("metric: acc\n", "metric: acc\n"
                                             "    higher_is_better: false\n"))
    assert load_task(f"lm-eval:{files['quiz_mc']}").metrics[0].higher_is_better is False


def test_metric_list_errors_and_defaults(tmp_path: Path) -> None:
    files = write_tasks(tmp_path)
    text = files["quiz_mc"].read_text()
    head = text[:text.index("metric_list:")]
    files["quiz_mc"].write_text(head)
    assert [m.name for m in load_task(f"lm-eval:{files['quiz_mc']}").metrics] == [
        "acc", "acc_norm", "confidence", "p_correct", "brier"]
    files["quiz_mc"].write_text(head + "metric_list:\n  - metric: f1\n")
    with pytest.raises(LmauditError, match=r"metric 'f1' is not supported for "
                                           r"multiple_choice \(supported: acc, acc_norm"):
        load_task(f"lm-eval:{files['quiz_mc']}")
    files["quiz_mc"].write_text(head + "metric_list:\n  - metric: acc\n"
                                       "    aggregation: median\n")
    with pytest.raises(LmauditError, match="aggregation 'median' is not supported"):
        load_task(f"lm-eval:{files['quiz_mc']}")
