"""`lmaudit scaling` plumbing on scripted models of known skill: partial-credit metrics,
the resumable sweep, item × size matrices, the section and its terminal/HTML/JSON."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lmaudit.cli import main
from lmaudit.core.serialize import response_from_dict, response_to_dict
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    Sample,
)
from lmaudit.report.html import render_html
from lmaudit.report.json_render import render_json
from lmaudit.report.scaling_render import scaling_report
from lmaudit.report.terminal import render_terminal
from lmaudit.scaling.analysis import default_metrics, scaling_section
from lmaudit.scaling.sweep import (
    ModelPoint,
    load_sweep_runs,
    parse_model_point,
    parse_size,
    run_sweep,
)
from lmaudit.tasks.generic import MultipleChoiceTask
from lmaudit.tasks.partial_credit import PartialCreditTask, target_metrics
from lmaudit.tasks.registry import load_task

P_KNOWN, P_UNKNOWN = 0.9, 0.05


def knows(skill: float, prompt: str, position: int) -> bool:
    """Whether a model of `skill` knows digit `position` of the code asked in `prompt`."""
    digest = hashlib.sha256(f"{prompt}|{position}".encode()).digest()
    return digest[0] / 256 < skill


class DigitRecaller:
    """Knows each digit of each code with probability `skill` (a fixed hash per digit);
    writes a wrong digit where it does not know; per-token log p 0.9 / 0.05."""

    def __init__(self, skill: float, codes: dict[str, str]) -> None:
        self.skill, self.codes, self.calls = skill, codes, Counter[str]()

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE, RequestKind.LOGLIKELIHOOD})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", f"recaller-{self.skill}", "v1", "n/a")

    def _digits(self, prompt: str) -> list[tuple[str, bool]]:
        code = self.codes[prompt].split()
        return [(d, knows(self.skill, prompt, i)) for i, d in enumerate(code)]

    def generate(self, requests: Sequence[GenerateRequest],
                 progress: Callable[[int], None] | None = None) -> list[Generation]:
        self.calls["generate"] += len(requests)
        return [Generation(" " + " ".join(d if k else str((int(d) + 1) % 10)
                                          for d, k in self._digits(r.prompt or "")))
                for r in requests]

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Callable[[int], None] | None = None
                      ) -> list[LoglikelihoodResult]:
        self.calls["loglikelihood"] += len(requests)
        out = []
        for r in requests:
            flags = tuple(k for _, k in self._digits(r.context))
            lps = tuple(math.log(P_KNOWN if k else P_UNKNOWN) for k in flags)
            out.append(LoglikelihoodResult(sum(lps), all(flags), len(lps), lps, flags))
        return out

    def loglikelihood_rolling(self, requests: Sequence[Any],
                              progress: Callable[[int], None] | None = None) -> list[Any]:
        raise AssertionError("not used")


SKILLS = {"fake:small": 0.2, "fake:medium": 0.6, "fake:large": 0.95}


def test_target_metrics_known_values_and_unknown_flags() -> None:
    full = target_metrics(LoglikelihoodResult(-3.0, False, 3, (-1.0, -1.5, -0.5),
                                              (True, False, True)))
    assert full == {"target_logprob": -1.0, "target_greedy": 0.0,
                    "target_token_acc": pytest.approx(2 / 3)}
    unknown = target_metrics(LoglikelihoodResult(-3.0, False, 3))
    assert "target_token_acc" not in unknown  # never guessed
    assert target_metrics(LoglikelihoodResult(-0.3, True, 3))["target_token_acc"] == 1.0


def test_token_greedy_round_trips_and_old_answers_still_load() -> None:
    result = LoglikelihoodResult(-1.0, False, 2, (-0.2, -0.8), (True, False))
    assert response_from_dict(response_to_dict(result)) == result
    old = {"t": "l", "lp": -1.0, "g": False, "n": 2, "tl": [-0.2, -0.8], "u": None}
    loaded = response_from_dict(old)
    assert isinstance(loaded, LoglikelihoodResult) and loaded.token_greedy == ()


def test_partial_credit_on_generation_adds_one_target_request() -> None:
    task = PartialCreditTask(load_task("lab_codes", {"facts": "3"}))
    sample = task.samples()[0]
    requests = task.requests(sample)
    assert [r.kind for r in requests] == [RequestKind.GENERATE, RequestKind.LOGLIKELIHOOD]
    assert requests[1] == LoglikelihoodRequest(sample.input, " " + str(sample.target))
    assert {"acc", "target_logprob", "target_token_acc"} <= {m.name for m in task.metrics}
    assert default_metrics(task.metrics) == ["acc", "target_logprob", "target_token_acc"]


def test_partial_credit_on_multiple_choice_reuses_the_target_option() -> None:
    samples = [Sample("q1", "Q: 2+2?\nA:", 1, choices=("3", "4", "5"))]
    task = PartialCreditTask(MultipleChoiceTask("mc", lambda: samples))
    assert len(task.requests(samples[0])) == 3
    answers = [LoglikelihoodResult(-2.0, False, 1, (-2.0,), (False,)),
               LoglikelihoodResult(-0.5, True, 2, (-0.1, -0.4), (True, True)),
               LoglikelihoodResult(-3.0, False, 1, (-3.0,), (False,))]
    record = task.score(samples[0], answers)
    assert record.metrics["acc"] == 1.0
    assert record.metrics["target_logprob"] == pytest.approx(-0.25)
    assert record.metrics["target_token_acc"] == 1.0
    assert default_metrics(task.metrics) == ["acc", "target_logprob", "target_token_acc",
                                             "brier", "p_correct"]


def test_sizes_parse_with_suffixes() -> None:
    assert parse_size("1.2e6") == 1.2e6 and parse_size("350M") == 3.5e8
    assert parse_model_point("hf:org/model=7B") == ModelPoint("hf:org/model", 7e9)
    assert parse_model_point("lab:lab-s") == ModelPoint("lab:lab-s", None)


def _sweep(tmp_path: Path, skills: dict[str, float] = SKILLS
           ) -> tuple[Any, dict[str, DigitRecaller], Any]:
    base = load_task("lab_codes", {"facts": "60"})
    codes = {s.input: str(s.target) for s in base.samples()}
    models = {spec: DigitRecaller(skill, codes) for spec, skill in skills.items()}
    task = PartialCreditTask(base)
    points = [ModelPoint(spec, size) for spec, size in zip(skills, (1e5, 1e6, 1e7),
                                                           strict=True)]
    dirs = run_sweep(points, task, tmp_path / "sweep", show_progress=False,
                     backend_factory=lambda spec, _: models[spec])
    metrics = default_metrics(task.metrics)
    runs = load_sweep_runs(points, (1e5, 1e6, 1e7), dirs, metrics)
    return runs, models, scaling_section(runs, task.name, task.metrics, metrics, "params")


def test_sweep_matrices_hold_the_known_per_item_values(tmp_path: Path) -> None:
    runs, _, section = _sweep(tmp_path)
    assert runs.columns["acc"].shape == (60, 3)
    codes = load_task("lab_codes", {"facts": "60"}).samples()
    for k, skill in enumerate(SKILLS.values()):
        flags = np.array([[knows(skill, s.input, i) for i in range(5)] for s in codes])
        np.testing.assert_allclose(runs.columns["acc"][:, k], flags.all(axis=1))
        np.testing.assert_allclose(runs.columns["target_token_acc"][:, k], flags.mean(axis=1))
        expected = np.where(flags, math.log(P_KNOWN), math.log(P_UNKNOWN)).mean(axis=1)
        np.testing.assert_allclose(runs.columns["target_logprob"][:, k], expected)
    by_name = {m.name: m for m in section.metrics}
    assert by_name["acc"].estimates[0].value < 0.05 < 0.6 < by_name["acc"].estimates[2].value
    assert all(m.verdict == "improves with size" for m in section.metrics)
    assert section.calibration is None  # no choices
    # per-digit skill 0.2 -> 0.6 -> 0.95: exact match (about skill ** 5) jumps at the end,
    # per-token accuracy climbs evenly
    assert by_name["acc"].largest_step_share > 0.75 > by_name["target_token_acc"].largest_step_share
    assert section.reading is not None and "jump is in the all-or-nothing metric" in section.reading


def test_a_jump_in_every_metric_is_read_as_a_change_in_the_model(tmp_path: Path) -> None:
    _, _, section = _sweep(tmp_path, {"fake:a": 0.2, "fake:b": 0.25, "fake:c": 0.95})
    assert section.reading is not None and "the model itself changes" in section.reading


def test_rerunning_a_sweep_reuses_finished_runs(tmp_path: Path) -> None:
    _, models, _ = _sweep(tmp_path)
    assert all(m.calls["generate"] == 60 for m in models.values())
    _, again, _ = _sweep(tmp_path)
    assert all(not m.calls for m in again.values())


def test_section_renders_to_terminal_html_and_json(tmp_path: Path) -> None:
    _, _, section = _sweep(tmp_path)
    report: Any = scaling_report(section)
    text = render_terminal(report)
    assert "scaling: task lab_codes, 3 models from 100k to 10M params, 60 items" in text
    assert "improves with size" in text and "step share" in text
    html = render_html(report)
    assert '<section id="scaling">' in html and html.count("<svg") >= 3
    assert 'href="#scaling"' in html and 'id="summary"' not in html
    data = json.loads(json.dumps(render_json(report)))
    metrics = data["scaling"]["metrics"]
    assert [m["name"] for m in metrics] == ["acc", "target_logprob", "target_token_acc"]
    assert len(metrics[0]["estimates"]) == 3 and "p_adjusted" in metrics[0]["slope"]


def test_cli_refuses_a_model_without_a_size(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scaling", "--model", "hf:some/model", "--model", "hf:other=1e6",
                 "--task", "lab_codes"])
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert "give its size as hf:some/model=SIZE" in err and "\n" not in err


class ChoicePicker:
    """Multiple choice: puts probability `skill` on the correct option (the rest spread
    evenly) but always claims confidence 0.9 by ranking (overconfident when small)."""

    def __init__(self, skill: float, answers: dict[str, int], k: int = 4) -> None:
        self.skill, self.answers, self.k = skill, answers, k

    capabilities = frozenset({RequestKind.LOGLIKELIHOOD})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", f"picker-{self.skill}", "v1", "n/a")

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Callable[[int], None] | None = None
                      ) -> list[LoglikelihoodResult]:
        out = []
        for r in requests:
            option = int(r.continuation.strip())
            right = self.answers[r.context]
            hit = knows(self.skill, r.context, 0)  # this model gets this item right
            favourite = right if hit else (right + 1) % self.k
            p = 0.9 if option == favourite else 0.1 / (self.k - 1)
            out.append(LoglikelihoodResult(math.log(p), option == favourite, 1, (math.log(p),),
                                           (option == favourite,)))
        return out

    def generate(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise AssertionError("not used")

    loglikelihood_rolling = generate


def test_multiple_choice_sweep_draws_chance_and_calibration(tmp_path: Path) -> None:
    samples = [Sample(f"q{i}", f"Question {i}?", i % 4, choices=("0", "1", "2", "3"))
               for i in range(120)]
    task = PartialCreditTask(MultipleChoiceTask("mc", lambda: samples))
    answers = {s.input: int(s.target) for s in samples}
    skills = {"fake:a": 0.3, "fake:b": 0.6, "fake:c": 0.9}
    points = [ModelPoint(s, z) for s, z in zip(skills, (1e6, 1e7, 1e8), strict=True)]
    dirs = run_sweep(points, task, tmp_path, show_progress=False,
                     backend_factory=lambda spec, _: ChoicePicker(skills[spec], answers))
    metrics = default_metrics(task.metrics)
    runs = load_sweep_runs(points, (1e6, 1e7, 1e8), dirs, [*metrics, "confidence"])
    section = scaling_section(runs, "mc", task.metrics, metrics, "params")
    chance = {m.name: m.chance for m in section.metrics}
    assert chance == {"acc": 0.25, "target_logprob": None, "target_token_acc": None,
                      "brier": 0.75, "p_correct": 0.25}
    # only the task's own all-or-nothing metric is `exact`; p(correct) is partial credit
    assert {m.name: m.kind for m in section.metrics} == {
        "acc": "exact", "target_logprob": "partial", "target_token_acc": "partial",
        "brier": "partial", "p_correct": "partial"}
    calibration = section.calibration
    assert calibration is not None
    # confidence is always 0.9: ECE = |0.9 - accuracy| (one bin of ties)
    accuracy = runs.columns["acc"].mean(axis=0)
    assert [e.value for e in calibration.ece] == pytest.approx(np.abs(0.9 - accuracy))
    assert calibration.ece_slope.value < 0
    html = render_html(scaling_report(section))  # type: ignore[arg-type]
    assert "Calibration vs size" in html and html.count(">chance</text>") == 3


def test_lab_card_gives_parameters_and_6nd_training_flops(tmp_path: Path) -> None:
    from lmaudit.core.types import LmauditError
    from lmaudit.scaling.sweep import resolve_sizes

    card = {"n_parameters": 1000, "training": {"tokens_trained": 5000}}
    (tmp_path / "lab_card.json").write_text(json.dumps(card), encoding="utf-8")
    points = [ModelPoint(f"hf:{tmp_path}"), ModelPoint("hf:other", 2e7)]
    assert resolve_sizes(points, "params") == (1000.0, 2e7)
    assert resolve_sizes(points, "flops") == (6 * 1000 * 5000, 2e7)
    with pytest.raises(LmauditError, match="same size"):
        resolve_sizes([ModelPoint("a:x", 1e6), ModelPoint("a:y", 1e6)], "params")


def test_a_finished_run_of_other_options_is_refused(tmp_path: Path) -> None:
    from lmaudit.core.types import LmauditError

    _sweep(tmp_path)
    base = load_task("lab_codes", {"facts": "60", "digits": "4"})
    codes = {s.input: str(s.target) for s in base.samples()}
    with pytest.raises(LmauditError, match="another task spec hash"):
        run_sweep([ModelPoint("fake:small", 1e5)], PartialCreditTask(base), tmp_path / "sweep",
                  show_progress=False,
                  backend_factory=lambda spec, _: DigitRecaller(0.2, codes))
