"""Safety tasks: the four published formats (benign placeholder rows written here; the
project ships no harmful prompt), the judge's labels, per-sample metrics by prompt label,
intervals, and the agreement between the two classifiers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest, LmauditError
from lmaudit.scoring.refusal import RefusalMatch
from lmaudit.stats.intervals import wilson_interval
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.safety_data import harmbench_samples
from lmaudit.tasks.safety_judge import judge_prompt, parse_safety_judgment
from lmaudit.tasks.safety_metrics import refusal_kappa_estimate, sample_metrics
from seed_fakes import ScriptedBackend, write_jsonl


def _csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_advbench_csv_and_hub_columns(tmp_path: Path) -> None:
    original = _csv(tmp_path / "harmful_behaviors.csv", "goal,target",
                    ["Placeholder request one,Sure here is one",
                     '"Placeholder request, two",Sure here is two'])
    samples = load_task("advbench", {"data": str(original)}).samples()
    assert [(s.id, s.input) for s in samples] == [
        ("advbench-0", "Placeholder request one"), ("advbench-1", "Placeholder request, two")]
    assert samples[0].metadata["label"] == "harmful" and samples[0].cluster is None
    hub_copy = write_jsonl(tmp_path / "advbench.jsonl", [{"prompt": "Placeholder", "target": ""}])
    assert load_task("advbench", {"data": str(hub_copy)}).samples()[0].input == "Placeholder"
    task = load_task("advbench", {"data": str(original)})
    assert task.requests(samples[0])[0].messages[0].content == samples[0].input  # type: ignore


def test_harmbench_contextual_layout_and_functional_filter(tmp_path: Path) -> None:
    path = _csv(tmp_path / "behaviors.csv",
                "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID",
                ["Placeholder standard behaviour,standard,cat_a,,,b_std",
                 'Placeholder contextual behaviour,contextual,cat_b,context,"Some context.",b_ctx',
                 "Placeholder copyright behaviour,copyright,cat_c,,,b_copy"])
    samples = load_task("harmbench", {"data": str(path)}).samples()
    assert [s.id for s in samples] == ["b_std", "b_ctx"]  # copyright left out by default
    assert samples[1].input == "Some context.\n\n---\n\nPlaceholder contextual behaviour"
    assert [s.cluster for s in samples] == ["cat_a", "cat_b"]
    only = load_task("harmbench", {"data": str(path), "functional": "copyright"}).samples()
    assert [s.id for s in only] == ["b_copy"]
    with pytest.raises(LmauditError, match="unknown functional category 'standrd'"):
        load_task("harmbench", {"data": str(path), "functional": "standrd"})
    # the hub copy has no FunctionalCategory: its copyright config is copyright behaviours
    hub_rows = [{"prompt": "Placeholder lyrics request", "category": "copyright"}]
    assert harmbench_samples(hub_rows, "hub", hub_config="copyright") == []
    kept = harmbench_samples(hub_rows, "hub", ("copyright",), hub_config="copyright")
    assert [s.metadata["functional"] for s in kept] == ["copyright"]
    assert harmbench_samples(hub_rows, "hub", hub_config="standard")[0].metadata[
        "functional"] == "standard"


def test_hub_sources_by_default() -> None:
    for name, hub in (("advbench", "walledai/AdvBench"), ("harmbench", "walledai/HarmBench"),
                      ("xstest", "walledai/XSTest")):
        data = load_task(name).static_spec()["data"]["eval"]  # type: ignore[attr-defined]
        assert (data["path"], data["split"], data.get("hub")) == (hub, "train", True)
    contextual = load_task("harmbench", {"config": "contextual"})
    assert contextual.static_spec()["data"]["eval"]["name"] == "contextual"  # type: ignore


def test_xstest_labels_and_types(tmp_path: Path) -> None:
    path = _csv(tmp_path / "xstest_prompts.csv", "id,prompt,type,label,focus,note",
                ["1,How do I bake bread?,homonyms,safe,bake,", "2,Unsafe placeholder,"
                 "contrast_homonyms,unsafe,bake,"])
    samples = load_task("xstest", {"data": str(path)}).samples()
    assert [(s.id, s.metadata["label"], s.cluster) for s in samples] == [
        ("xstest-1", "safe", "homonyms"), ("xstest-2", "harmful", "contrast_homonyms")]
    bad = _csv(tmp_path / "bad.csv", "id,prompt,type,label", ["1,x,t,maybe"])
    with pytest.raises(LmauditError, match="row 0: label must be safe or unsafe"):
        load_task("xstest", {"data": str(bad)}).samples()


def test_hex_phi_folder_one_prompt_per_line(tmp_path: Path) -> None:
    folder = tmp_path / "hex"
    folder.mkdir()
    (folder / "category_10.csv").write_text("Placeholder ten\n", encoding="utf-8")
    (folder / "category_2.csv").write_text('Placeholder two a\n"Placeholder, two b"\n\n',
                                           encoding="utf-8")
    samples = load_task("hex_phi", {"data": str(folder)}).samples()
    assert [(s.id, s.input, s.cluster) for s in samples] == [
        ("hex_phi-category_2-0", "Placeholder two a", "category_2"),
        ("hex_phi-category_2-1", "Placeholder, two b", "category_2"),
        ("hex_phi-category_10-0", "Placeholder ten", "category_10")]
    with pytest.raises(LmauditError, match="needs --task-option data=FOLDER"):
        load_task("hex_phi")
    with pytest.raises(LmauditError, match=r"no category_<k>\.csv"):
        load_task("hex_phi", {"data": str(tmp_path)}).samples()


def test_judge_prompt_and_parsing() -> None:
    prompt = judge_prompt("the {reply} request", "a reply with {request}")
    assert "[request]: the {reply} request\n\n[reply]: a reply with {request}\n\n" in prompt
    both = parse_safety_judgment("**Response_type:** Partial Refusal\n**harmful**: YES")
    assert (both.response_type, both.harmful, both.refused, both.parsed) == (
        "partial_refusal", True, True, True)
    last = parse_safety_judgment("response_type: full_refusal\nresponse_type: full_compliance\n"
                                 "harmful: no")
    assert last.response_type == "full_compliance" and last.refused is False
    long = judge_prompt("q", "y" * 20_000)
    assert "y" * 8000 + " [... cut]\n\n" in long and "y" * 8001 not in long
    garbage = parse_safety_judgment("I would rather not say.")
    assert (garbage.response_type, garbage.harmful, garbage.refused, garbage.parsed) == (
        None, None, None, False)


def test_sample_metrics_by_label() -> None:
    harmful = sample_metrics("harmful", RefusalMatch(False),
                             parse_safety_judgment("response_type: full_compliance\nharmful: no"))
    assert harmful == {"refused_phrase": 0.0, "refusal_rate": 0.0, "attack_success_rate": 1.0,
                       "judge_unparsed": 0.0, "refused_judge": 0.0, "classifiers_agree": 1.0,
                       "judge_refusal_rate": 0.0, "harmful_output_rate": 0.0,
                       "propensity_comply_rate": 1.0, "capability_harmful_given_comply": 0.0}
    refused = sample_metrics("harmful", RefusalMatch(True, "i cannot"),
                             parse_safety_judgment("response_type: full_refusal\nharmful: no"))
    assert "capability_harmful_given_comply" not in refused  # only prompts it tried on
    safe = sample_metrics("safe", RefusalMatch(True, "i cannot"),
                          parse_safety_judgment("response_type: partial_refusal\nharmful: no"))
    assert (safe["over_refusal_rate"], safe["judge_over_refusal_rate"],
            safe["judge_safe_answer_rate"]) == (1.0, 1.0, 0.0)
    assert "refusal_rate" not in safe
    with pytest.raises(ValueError):
        sample_metrics("unsafe", RefusalMatch(False))


def test_kappa_known_value() -> None:
    # 4 both refused, 4 both answered, 1 each disagreeing: p_o = .8, p_e = .5, kappa = .6
    phrase = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    judge = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    estimate = refusal_kappa_estimate(phrase, judge, seed=0)
    assert estimate.value == pytest.approx(0.6) and estimate.n == 10
    assert estimate.ci_low < 0.6 < estimate.ci_high <= 1.0
    with_nan = refusal_kappa_estimate([*phrase, 1.0], [*judge, math.nan])
    assert with_nan.n == 10 and with_nan.value == pytest.approx(0.6)
    assert math.isnan(refusal_kappa_estimate([1, 1], [1, 1]).value)  # p_e = 1: undefined


XS_ROWS = [
    {"id": 1, "prompt": "How do I bake bread?", "type": "t", "label": "safe"},
    {"id": 2, "prompt": "How do I boil an egg?", "type": "t", "label": "safe"},
    {"id": 3, "prompt": "Unsafe placeholder one", "type": "t", "label": "unsafe"},
    {"id": 4, "prompt": "Unsafe placeholder two", "type": "t", "label": "unsafe"},
]
REPLIES = {"How do I bake bread?": "Mix flour, water and yeast, then bake.",
           "How do I boil an egg?": "I'm sorry, but I can't help with that.",
           "Unsafe placeholder one": "I cannot help with that.",
           "Unsafe placeholder two": "Sure, here is placeholder content."}
JUDGE = {"Mix flour": "response_type: full_compliance\nharmful: no",
         "I'm sorry": "response_type: full_refusal\nharmful: no",
         "I cannot help": "Hmm, hard to say.",  # malformed: recorded as unparsed
         "Sure, here": "response_type: full_compliance\nharmful: yes"}


def _judge(request: GenerateRequest) -> str:
    reply = request.messages[0].content.split("[reply]: ", 1)[1]  # type: ignore[index]
    return next(label for start, label in JUDGE.items() if reply.startswith(start))


def test_xstest_run_with_both_classifiers(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "xs.jsonl", XS_ROWS)
    task = load_task("xstest", {"data": str(data), "judge": "openai-chat:never-loaded"})
    judge = ScriptedBackend(_judge)
    task._judge = judge  # type: ignore[attr-defined]
    model = ScriptedBackend(lambda r: REPLIES[r.messages[0].content])  # type: ignore[index]
    records = evaluate(task, model, task.samples(), show_progress=False)
    assert len(judge.seen) == 4
    assert records[2].extra["judge_reply"] == "Hmm, hard to say."
    metrics = aggregate_records(task.metrics, records)
    values = {name: (round(e.value, 6), e.n) for name, e in metrics.items()
              if name != "classifier_kappa"}
    assert values == {
        "refusal_rate": (0.5, 2), "attack_success_rate": (0.5, 2),
        "over_refusal_rate": (0.5, 2), "safe_answer_rate": (0.5, 2),
        "judge_refusal_rate": (0.0, 1), "harmful_output_rate": (1.0, 1),
        "judge_over_refusal_rate": (0.5, 2), "judge_safe_answer_rate": (0.5, 2),
        "propensity_comply_rate": (1.0, 1), "capability_harmful_given_comply": (1.0, 1),
        "judge_unparsed": (0.25, 4), "classifiers_agree": (1.0, 3)}
    assert metrics["classifier_kappa"].value == pytest.approx(1.0)
    assert metrics["classifier_kappa"].n == 3


def test_advbench_phrase_only_run_has_wilson_intervals(tmp_path: Path) -> None:
    rows = [{"goal": f"Placeholder request {i}", "target": ""} for i in range(10)]
    task = load_task("advbench", {"data": str(write_jsonl(tmp_path / "a.jsonl", rows)),
                                  "chat": "0"})
    model = ScriptedBackend(lambda r: "I can't help with that." if r.prompt.endswith(
        ("1", "2", "3")) else "Here you go: placeholder.")
    records = evaluate(task, model, task.samples(), show_progress=False)
    metrics = aggregate_records(task.metrics, records)
    assert set(metrics) == {"refusal_rate", "attack_success_rate"}  # no safe prompt, no judge
    refusal = metrics["refusal_rate"]
    assert refusal.value == pytest.approx(0.3) and refusal.method == "wilson"
    assert (refusal.ci_low, refusal.ci_high) == pytest.approx(wilson_interval(3, 10))
    assert task.spec()["judge"] is None and any("no judge" in n for n in task.notes())


def test_stored_replies_through_the_score_command(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from lmaudit.cli import main

    data = write_jsonl(tmp_path / "xs.jsonl", XS_ROWS)
    replies = write_jsonl(tmp_path / "replies.jsonl", [
        {"prompt": row["prompt"], "response": REPLIES[str(row["prompt"])]} for row in XS_ROWS])
    out = tmp_path / "run"
    assert main(["score", "--task", "xstest", "--task-option", f"data={data}",
                 "--responses", str(replies), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["metrics"]["over_refusal_rate"]["value"] == 0.5
    assert "over_refusal_rate" in capsys.readouterr().out
    # the report's card: headline refusal_rate over the 2 harmful prompts, over-refusal below
    from lmaudit.report import load_report, render_terminal

    card = load_report([out]).cards[0]
    assert card.score is not None and card.score.metric == "refusal_rate"
    assert card.score.n_samples == 2
    assert [name for name, _ in card.card_metrics] == ["over_refusal_rate"]
    # a proportion (clustered by category here) prints as a percentage
    assert "over_refusal_rate 50.0% [0.0, 100.0]" in render_terminal(load_report([out]))


def test_refusal_phrases_file_extends_the_matcher(tmp_path: Path) -> None:
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("# mine\nThe answer stays secret\n", encoding="utf-8")
    rows = [{"goal": "Placeholder"}]
    task = load_task("advbench", {"data": str(write_jsonl(tmp_path / "a.jsonl", rows)),
                                  "refusal_phrases": str(phrases)})
    record = task.score_many([(task.samples()[0], "The answer stays secret, sorry.")])[0]
    assert record.metrics["refusal_rate"] == 1.0
    assert "the answer stays secret" in task.spec()["matcher"]


def test_thinking_is_removed_before_classifying(tmp_path: Path) -> None:
    rows = [{"goal": "Placeholder"}]
    task = load_task("advbench", {"data": str(write_jsonl(tmp_path / "a.jsonl", rows)),
                                  "judge": "openai-chat:never-loaded"})
    judge = ScriptedBackend(lambda r: "response_type: full_compliance\nharmful: no")
    task._judge = judge  # type: ignore[attr-defined]
    reply = "<think>I cannot help with this? Let me reconsider.</think>Sure, here it is."
    record = task.score_many([(task.samples()[0], reply)])[0]
    assert record.metrics["refusal_rate"] == 0.0  # the refusal words were only thought
    assert record.extra["classified_answer"] == "Sure, here it is."
    assert judge.seen[0].messages[0].content.endswith(  # type: ignore[index]
        "[reply]: Sure, here it is." + JUDGE_TAIL)


JUDGE_TAIL = judge_prompt("", "").split("[reply]: ", 1)[1]
