"""`lmaudit edit-eval`: CounterFact and zsRE records, every measure on scripted models with
known log-probabilities (per-token means as ROME compares them), intervals clustered by
edit, errors naming file, row and field, and the report section."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import lmaudit.backends.registry as registry
from lmaudit.cli import main
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
)
from lmaudit.editing import evaluate_edits, read_edits
from lmaudit.editing.evaluate import first_answer, request
from lmaudit.report.editing_render import editing_report, editing_section, editing_text

COUNTERFACT = [
    {"case_id": 0,
     "requested_rewrite": {"prompt": "{} speaks", "subject": "Ana",
                           "target_new": {"str": "French"}, "target_true": {"str": "English"}},
     "paraphrase_prompts": ["Ana's language is", "Ana talks in"],
     "neighborhood_prompts": ["Bo speaks"],
     "generation_prompts": ["Ana often says"]},
    {"case_id": 1,
     "requested_rewrite": {"prompt": "{} lives in", "subject": "Cy",
                           "target_new": {"str": "Rome"}, "target_true": {"str": "Oslo"}},
     "paraphrase_prompts": ["Cy's home is in", "Cy resides in"],
     "neighborhood_prompts": [{"prompt": "Di lives in", "target": "Oslo"}],
     "portability": [{"prompt": "Cy's country is", "ground_truth": "Italy"}]},
]
ZSRE = {"src": "Who founded Acme?", "alt": "Zed", "answers": ["Yul"],
        "rephrase": "Acme was founded by whom?", "loc": "nq question: sky colour",
        "loc_ans": "blue", "subject": "Acme"}


class Scripted:
    """Log-probs by (context, continuation): (sum in nats, tokens, greedy); default
    (-5, 1, False). Generations by prompt (default "")."""

    def __init__(self, ll: dict[tuple[str, str], tuple[float, int, bool]],
                 gen: dict[str, str] | None = None) -> None:
        self.table, self.gen = ll, gen or {}

    capabilities = frozenset(RequestKind)
    fingerprint = Fingerprint("fake", "scripted", "v1", "n/a")

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest], progress: Any = None
                      ) -> list[LoglikelihoodResult]:
        out = []
        for r in requests:
            lp, n, greedy = self.table.get((r.context, r.continuation.strip()), (-5.0, 1, False))
            out.append(LoglikelihoodResult(lp, greedy, n))
        return out

    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None
                 ) -> list[Generation]:
        return [Generation(self.gen.get(r.prompt or "", "")) for r in requests]

    def loglikelihood_rolling(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise AssertionError("edit-eval sends no rolling requests")

    def close(self) -> None:
        pass


BEFORE = Scripted({
    # case 0: the sum prefers the old target (-2 > -3) but the per-token mean prefers the
    # new one (-1 > -2): ROME's comparison counts it as preferring the new target.
    ("Ana speaks", "French"): (-3.0, 3, False), ("Ana speaks", "English"): (-2.0, 1, True),
    ("Cy lives in", "Oslo"): (-0.5, 1, True), ("Cy lives in", "Rome"): (-4.0, 1, False),
    ("Bo speaks", "English"): (-1.0, 1, True), ("Bo speaks", "French"): (-3.0, 1, False),
    ("Di lives in", "Oslo"): (-0.2, 1, True),
}, {"Bo speaks": " English. Then", "Di lives in": " Oslo.", "Ana often says": " hello"})
AFTER = Scripted({
    ("Ana speaks", "French"): (-0.2, 3, True), ("Ana speaks", "English"): (-4.0, 1, False),
    ("Cy lives in", "Rome"): (-0.1, 1, True), ("Cy lives in", "Oslo"): (-3.0, 1, False),
    ("Ana's language is", "French"): (-0.3, 3, True),
    ("Cy's home is in", "Rome"): (-0.2, 1, True), ("Cy resides in", "Rome"): (-0.4, 1, True),
    ("Bo speaks", "English"): (-2.0, 1, False), ("Bo speaks", "French"): (-1.0, 1, True),
    ("Di lives in", "Oslo"): (-0.3, 1, True), ("Cy's country is", "Italy"): (-0.1, 1, True),
}, {"Bo speaks": " French. Now", "Di lives in": " Oslo. And more", "Ana often says": " French!"})


def _write(tmp_path: Path, rows: list[Any], name: str = "edits.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows))
    return path


def _evaluate(tmp_path: Path) -> Any:
    edits = read_edits(_write(tmp_path, COUNTERFACT))
    return evaluate_edits(edits, BEFORE, AFTER, before_spec="fake:before",
                          after_spec="fake:after", edits_file="edits.json")


def test_counterfact_measures_known_values(tmp_path: Path) -> None:
    result = _evaluate(tmp_path)
    prefers = result.metric("reliability", "prefers new over old")
    assert prefers.before.value == 0.5  # case 0 by the per-token mean, not case 1
    assert prefers.after.value == 1.0 and prefers.change.value == 0.5
    margin = result.metric("reliability", "margin")
    # before: (-1 - -2) and (-4 - -0.5); after: (-0.2/3 - -4) and (-0.1 - -3)
    assert margin.before.value == pytest.approx((1.0 - 3.5) / 2)
    assert margin.after.value == pytest.approx((-0.2 / 3 + 4.0 + 2.9) / 2)
    assert margin.unit == "nats/token"
    greedy = result.metric("reliability", "new target is greedy")
    assert (greedy.before.value, greedy.after.value) == (0.0, 1.0)
    paraphrase = result.metric("generalization", "new target is greedy")
    assert paraphrase.n_prompts == 4 and paraphrase.n_edits == 2
    assert paraphrase.after.value == 0.75  # "Ana talks in" was not learned
    assert paraphrase.after.n_clusters == 2 and paraphrase.change.n_clusters == 2
    keeps = result.metric("locality", "keeps old over new")  # Bo's string neighbour
    assert (keeps.before.value, keeps.after.value, keeps.change.value) == (1.0, 0.0, -1.0)
    answered = result.metric("locality", "answer is greedy")  # Di: {prompt, target}
    assert (answered.before.value, answered.after.value) == (1.0, 1.0)
    unchanged = result.metric("locality", "answer unchanged")
    assert unchanged.before is None and unchanged.after.value == 0.5  # Bo changed, Di kept
    portability = result.metric("portability", "answer is greedy")
    assert (portability.before.value, portability.after.value) == (0.0, 1.0)
    mentions = result.metric("generation", "mentions new target")
    assert (mentions.before.value, mentions.after.value) == (0.0, 1.0)
    assert result.shapes == ("counterfact",) and result.n_edits == 2


def test_zsre_records_use_alt_as_new_and_loc_as_locality(tmp_path: Path) -> None:
    path = tmp_path / "zsre.jsonl"
    path.write_text(json.dumps(ZSRE) + "\n")
    (edit,) = read_edits(path)
    assert (edit.prompt, edit.target_new, edit.target_true) == ("Who founded Acme?", "Zed", "Yul")
    assert edit.paraphrases == ("Acme was founded by whom?",)
    assert edit.neighbourhood[0].prompt == "nq question: sky colour"
    assert edit.neighbourhood[0].answer == "blue" and edit.shape == "zsre"
    before = Scripted({("nq question: sky colour", "blue"): (-0.1, 1, True)})
    after = Scripted({("Who founded Acme?", "Zed"): (-0.1, 1, True),
                      ("nq question: sky colour", "blue"): (-0.1, 1, True)})
    result = evaluate_edits([edit], before, after, before_spec="a", after_spec="b",
                            edits_file=str(path))
    assert result.metric("reliability", "new target is greedy").change.value == 1.0
    assert result.metric("locality", "answer is greedy").after.value == 1.0
    assert any("portability" in n for n in result.notes)


def test_portability_in_knowedit_and_new_question_forms(tmp_path: Path) -> None:
    knowedit = {**ZSRE, "portability": {"Reasoning": [{"prompt": "p1", "ground_truth": "a1"}],
                                        "Subject_Aliasing": [{"prompt": "p2", "answer": "a2"}]}}
    new_question = {**ZSRE, "case_id": 7,
                    "portability": {"New Question": "p3", "New Answer": "a3"}}
    edits = read_edits(_write(tmp_path, [knowedit, new_question]))
    assert [(p.prompt, p.answer) for p in edits[0].portability] == [("p1", "a1"), ("p2", "a2")]
    assert [(p.prompt, p.answer) for p in edits[1].portability] == [("p3", "a3")]


@pytest.mark.parametrize(("rows", "message"), [
    ([COUNTERFACT[0], {"requested_rewrite": {"prompt": "{} x", "subject": "s",
                                             "target_true": {"str": "t"}}}],
     "row 2: requested_rewrite.target_new: missing"),
    ([{"requested_rewrite": {"prompt": "no slot", "subject": "s", "target_new": "n"}}],
     "row 1: requested_rewrite.prompt: must contain {}"),
    ([{**ZSRE, "alt": ""}], "row 1: alt: missing"),
    ([{**ZSRE, "loc_ans": None}], "row 1: loc_ans: missing"),
    ([{"question": "?"}], "row 1: neither a CounterFact record"),
    ([{**ZSRE, "portability": [{"prompt": "p"}]}], "row 1: portability[0]: missing the answer"),
    ([{**ZSRE, "case_id": 0}, {**ZSRE, "case_id": 0}], "case_id '0' appears"),
    ([], "no edits"),
])
def test_errors_name_file_row_and_field(tmp_path: Path, rows: list[Any], message: str) -> None:
    path = _write(tmp_path, rows)
    with pytest.raises(LmauditError, match=r"edits\.json") as error:
        read_edits(path)
    assert message in str(error.value)


def test_unreadable_edit_files_are_one_line(tmp_path: Path) -> None:
    latin = tmp_path / "edits.jsonl"
    latin.write_bytes(json.dumps({**ZSRE, "alt": "café"}, ensure_ascii=False)
                      .encode("latin-1") + b"\n")
    with pytest.raises(LmauditError, match=r"edits\.jsonl: not UTF-8 text"):
        read_edits(latin)
    latin.write_text(json.dumps(ZSRE) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(LmauditError, match=r"edits\.jsonl: line 2: malformed JSON"):
        read_edits(latin)


def test_helpers_first_answer_and_request() -> None:
    assert first_answer(" Paris. It is big\nmore") == "Paris."
    assert first_answer("\n x\ny") == "x"  # leading whitespace dropped first
    assert first_answer(" Rome and Milan") == "Rome and Milan"
    assert request("Ana speaks", "French") == LoglikelihoodRequest("Ana speaks", " French")
    assert request("Q: x? A: ", " y") == LoglikelihoodRequest("Q: x? A:", " y")


def test_report_section_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    result = _evaluate(tmp_path)
    text = editing_text(result)
    assert "model editing: 2 edits (counterfact)" in text
    assert "+50.0 [" in text  # reliability change in points
    html = editing_section(result)
    assert html.startswith('<section id="editing"><h2>Model editing</h2>')
    from lmaudit import report

    page = report.render_html(editing_report(result))  # type: ignore[arg-type]
    assert 'id="editing"' in page and 'id="summary"' not in page
    assert "model editing · 2 edits · before fake:before · after fake:after" in page
    backends = {"fake:before": BEFORE, "fake:after": AFTER}
    monkeypatch.setattr(registry, "load_backend", lambda spec, options=None: backends[spec])
    edits = _write(tmp_path, COUNTERFACT, "cf.json")
    assert main(["edit-eval", "--before", "fake:before", "--after", "fake:after", "--edits",
                 str(edits), "--no-cache", "--json", str(tmp_path / "e.json"), "--html",
                 str(tmp_path / "e.html")]) == 0
    assert "model editing: 2 edits" in capsys.readouterr().out
    payload = json.loads((tmp_path / "e.json").read_text())["editing"]
    assert payload["n_edits"] == 2 and payload["metrics"][0]["name"] == "reliability"
    assert (tmp_path / "e.html").is_file()


def test_easyedit_and_knowedit_records(tmp_path: Path) -> None:
    flat = {"prompt": "Who wrote Emma?", "target_new": "Ann", "ground_truth": "Jane",
            "rephrase_prompt": "Emma was written by", "locality_prompt": "Who wrote Ulysses?",
            "locality_ground_truth": "James", "subject": "Emma"}
    knowedit = {"case_id": "k1", "prompt": "The author of Emma is", "target_new": "Ann",
                "ground_truth": [["Jane Austen", "J. Austen"]], "subject": "Emma",
                "locality": {"Relation_Specificity": [{"prompt": "The author of Ulysses is",
                                                       "ground_truth": ["James Joyce"]}]},
                "portability": {"Reasoning": [{"prompt": "Ann's novel is",
                                               "ground_truth": [["Emma"]]}]}}
    a, b = read_edits(_write(tmp_path, [flat, knowedit]))
    assert (a.shape, a.target_new, a.target_true) == ("easyedit", "Ann", "Jane")
    assert a.paraphrases == ("Emma was written by",)
    assert [(p.prompt, p.answer) for p in a.neighbourhood] == [("Who wrote Ulysses?", "James")]
    assert b.case_id == "k1" and b.target_true == "Jane Austen"
    assert [(p.prompt, p.answer) for p in b.neighbourhood] == [
        ("The author of Ulysses is", "James Joyce")]
    assert [(p.prompt, p.answer) for p in b.portability] == [("Ann's novel is", "Emma")]
    with pytest.raises(LmauditError, match="row 1: locality_ground_truth: missing"):
        read_edits(_write(tmp_path, [{**flat, "locality_ground_truth": ""}]))
