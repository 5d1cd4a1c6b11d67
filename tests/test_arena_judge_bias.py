"""Judge-bias report on constructed verdict sets whose flip rate, length slope,
self-preference and agreement are known."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from lmaudit.arena.agreement import cohen_kappa, judge_verdicts
from lmaudit.arena.families import family_of, parse_family_mapping
from lmaudit.arena.judge_agreement import judges_agreement
from lmaudit.arena.judge_bias import (
    format_judge_bias,
    judge_bias,
    length_slope,
    position_flip_rate,
    self_preference,
)
from lmaudit.arena.judges import Judgment, ModelOutputs, summarize_judgments
from lmaudit.cli import main
from lmaudit.core.types import GenerateRequest, Generation, LmauditError
from lmaudit.stats.krippendorff import krippendorff_alpha_nominal


def _j(prompt: str, first: str, second: str, level: int | None) -> Judgment:
    return Judgment(prompt, first, second, "", level)


def test_flip_rate_known() -> None:
    """10 prompts judged in both orders; on 3 the judge always prefers answer A (a flip)."""
    judgments = []
    for i in range(10):
        if i < 3:
            judgments += [_j(f"p{i}", "a", "b", 1), _j(f"p{i}", "b", "a", 1)]
        else:  # a is better whatever the order
            judgments += [_j(f"p{i}", "a", "b", 2), _j(f"p{i}", "b", "a", -1)]
    judgments.append(_j("p10", "a", "b", 1))  # one order only: not an item
    judgments += [_j("p11", "a", "b", 1), _j("p11", "b", "a", None)]  # unparsed: not an item
    flips = position_flip_rate(judgments)
    assert flips is not None
    assert flips.value == pytest.approx(0.3) and flips.n == 10
    assert flips.ci_low < 0.3 < flips.ci_high and flips.ci_low >= 0 and flips.ci_high <= 1
    assert flips.value == pytest.approx(1 - summarize_judgments(judgments).position_consistency)
    # a tie in one order and a win in the other is a flip too
    tie_flip = position_flip_rate([_j("q", "a", "b", 0), _j("q", "b", "a", -1)])
    assert tie_flip is not None and tie_flip.value == 1.0
    assert position_flip_rate([_j("q", "a", "b", 1)]) is None


def _length_outputs(n: int, short: int = 100, long: int = 200) -> list[ModelOutputs]:
    return [
        ModelOutputs("long", {f"p{i}": ("q", "w" * long) for i in range(n)}),
        ModelOutputs("short", {f"p{i}": ("q", "w" * short) for i in range(n)}),
    ]


def test_length_slope_closed_form() -> None:
    """Length difference +-100 characters; the first answer wins 75% when it is the longer,
    25% when the shorter: slope = (logit .75 - logit .25) / 2 = ln 3, intercept 0."""
    judgments = []
    for i in range(80):
        long_first = i < 40
        first_wins = (i % 40) < (30 if long_first else 10)
        first, second = ("long", "short") if long_first else ("short", "long")
        judgments.append(_j(f"p{i}", first, second, 1 if first_wins else -1))
    judgments.append(_j("p0", "long", "short", 0))  # ties are dropped
    slope = length_slope(judgments, _length_outputs(80))
    assert slope is not None
    assert slope.value == pytest.approx(math.log(3), abs=1e-8)
    assert slope.intercept == pytest.approx(0.0, abs=1e-8)
    assert slope.n == 80 and slope.n_clusters == 80
    # saturated model, one verdict per prompt: CR1 = G/(G-1) times the model-based variance
    var = (1 / (40 * 0.75 * 0.25) + 1 / (40 * 0.25 * 0.75)) / 4 * 80 / 79
    assert slope.stderr == pytest.approx(math.sqrt(var), rel=1e-6)
    assert slope.ci_low > 0  # a length bias, significantly


def test_length_slope_sign_from_simulated_judge() -> None:
    rng = np.random.default_rng(11)
    for true_slope in (0.8, -0.8):
        lengths = rng.integers(50, 600, size=(300, 2))
        outputs = [
            ModelOutputs(m, {f"p{i}": ("q", "w" * int(lengths[i, k])) for i in range(300)})
            for k, m in enumerate(("m0", "m1"))
        ]
        judgments = []
        for i in range(300):
            for first, second, sign in (("m0", "m1", 1), ("m1", "m0", -1)):
                diff = sign * (lengths[i, 0] - lengths[i, 1]) / 100
                p = 1 / (1 + math.exp(-(0.3 + true_slope * diff)))
                judgments.append(_j(f"p{i}", first, second, 1 if rng.random() < p else -1))
        slope = length_slope(judgments, outputs)
        assert slope is not None and slope.ci_low < true_slope < slope.ci_high
        assert np.sign(slope.ci_low) == np.sign(slope.ci_high) == np.sign(true_slope)
        assert slope.intercept == pytest.approx(0.3, abs=0.25)


def test_length_slope_undefined_cases() -> None:
    same = [ModelOutputs(m, {"p0": ("q", "abc"), "p1": ("q", "xyz")}) for m in ("a", "b")]
    flat = [_j("p0", "a", "b", 1), _j("p0", "b", "a", -1), _j("p1", "a", "b", 1)]
    assert length_slope(flat, same) is None  # no length differences
    separated = [_j(f"p{i}", "long", "short", 1) for i in range(5)]
    separated += [_j(f"p{i}", "short", "long", -1) for i in range(5)]
    assert length_slope(separated, _length_outputs(5)) is None  # longer always wins


def test_families() -> None:
    assert family_of("hf:Qwen/Qwen2.5-7B-Instruct") == "qwen"
    assert family_of("gpt-4o-mini") == "gpt"
    assert family_of("openai:gpt-4o") == "gpt"
    assert family_of("claude-3-opus") == "claude"
    assert family_of("Meta-Llama-3-8B") == "meta"
    assert family_of("Meta-Llama-3-8B", {"Meta-Llama-3-8B": "llama"}) == "llama"
    assert family_of("7b-model") == "7b-model"
    assert parse_family_mapping(["lab:x=y=fam"]) == {"lab:x=y": "fam"}
    with pytest.raises(LmauditError, match="NAME=FAMILY"):
        parse_family_mapping(["nofamily"])


def _self_pref_judgments(own_wins_every: int) -> list[Judgment]:
    """gpt-4o vs llama-3 and claude-3 on 12 prompts, both orders; gpt-4o wins a call
    when (prompt index % own_wins_every) == 0 and loses otherwise; llama vs claude a tie."""
    out = []
    for i in range(12):
        win = i % own_wins_every == 0
        for other in ("llama-3", "claude-3"):
            out.append(_j(f"p{i}", "gpt-4o", other, 1 if win else -1))
            out.append(_j(f"p{i}", other, "gpt-4o", -1 if win else 1))
        out.append(_j(f"p{i}", "llama-3", "claude-3", 0))
    return out


def test_self_preference_raw_and_matched() -> None:
    mine = _self_pref_judgments(1)  # gpt-4o always wins
    peer = _self_pref_judgments(2)  # gpt-4o wins half the prompts
    result = self_preference(mine, "gpt", other_judges={"claude-judge": peer})
    assert result is not None
    assert result.own_models == ("gpt-4o",)
    assert result.win_rate.value == 1.0 and result.win_rate.n == 48
    assert result.win_rate.ci_high == 1.0 and result.win_rate.ci_low > 0.5
    assert result.matched is not None and result.matched_against == ("claude-judge",)
    assert result.matched.value == pytest.approx(0.5)
    assert result.matched.ci_low > 0  # prefers its own family more than its peer does
    # the peer judge is of another family: it favours claude-3 in no way here
    peer_view = self_preference(peer, "claude")
    assert peer_view is not None and peer_view.win_rate.value == pytest.approx(0.5)
    assert peer_view.matched is None
    assert self_preference(mine, "mistral") is None


def test_judge_bias_report_and_format() -> None:
    judgments = _self_pref_judgments(1)
    outputs = [
        ModelOutputs(m, {f"p{i}": ("q", "w" * (10 + i * k)) for i in range(12)})
        for k, m in enumerate(("gpt-4o", "llama-3", "claude-3"))
    ]
    bias = judge_bias(judgments, outputs, judge="openai:gpt-4o-judge")
    assert bias.judge_family == "gpt"
    assert bias.flip_rate is not None and bias.flip_rate.value == 0.0
    assert bias.self_preference is not None
    text = format_judge_bias(bias)
    assert "position flips: 0.0%" in text and "own-family answers (gpt-4o) win 100.0%" in text
    assert "self-preference is unmatched" in text
    mapped = judge_bias(
        judgments, outputs, judge="openai:gpt-4o-judge", families={"openai:gpt-4o-judge": "x"}
    )
    assert mapped.self_preference is None and "--family" in format_judge_bias(mapped)


def _labelled(labels: Sequence[str], prompt: str = "p") -> list[Judgment]:
    """One judge's verdicts on items (prompt{i}, a, b), both orders agreeing."""
    level = {"first": 1, "second": -1, "tie": 0}
    out = []
    for i, label in enumerate(labels):
        out += [
            _j(f"{prompt}{i}", "a", "b", level[label]),
            _j(f"{prompt}{i}", "b", "a", -level[label]),
        ]
    return out


def test_judges_agreement_known_values() -> None:
    one = ["first"] * 6 + ["second"] * 6 + ["tie"] * 3
    two = ["first"] * 5 + ["second"] * 7 + ["tie"] * 2 + ["first"]
    three = ["first"] * 6 + ["second"] * 4 + ["tie"] * 5
    judgments = {"j1": _labelled(one), "j2": _labelled(two), "j3": _labelled(three)[:-4]}
    result = judges_agreement(judgments, rounds=400, seed=1)
    assert result.n_items == 15 and result.n_prompts == 15
    kappa_12 = next(p for p in result.pairs if (p.judge_a, p.judge_b) == ("j1", "j2"))
    assert kappa_12.kappa == pytest.approx(cohen_kappa(one, two))
    assert kappa_12.ci_low <= kappa_12.kappa <= kappa_12.ci_high
    kappa_13 = next(p for p in result.pairs if p.judge_b == "j3" and p.judge_a == "j1")
    assert kappa_13.n == 13  # j3 judged only 13 items
    units = [[one[i], two[i], three[i] if i < 13 else None] for i in range(15)]
    assert result.alpha == pytest.approx(krippendorff_alpha_nominal(units))
    assert result.alpha_ci_low <= result.alpha <= result.alpha_ci_high < 1.0
    same = judges_agreement({"j1": _labelled(one), "j2": _labelled(one)}, rounds=50)
    assert same.alpha == 1.0 and same.pairs[0].kappa == 1.0
    assert judge_verdicts(_labelled(one))[("p0", "a", "b")] == "first"
    with pytest.raises(LmauditError, match="two judges"):
        judges_agreement({"j1": _labelled(one)})


def test_human_agreement_kappa_has_an_interval() -> None:
    import pandas as pd

    from lmaudit.arena.agreement import human_agreement
    from lmaudit.arena.battles import battles_from_frame

    labels = ["first"] * 8 + ["second"] * 8 + ["tie"] * 4
    human_labels = [*labels[:-3], "first", "second", "first"]
    winner = {"first": "model_a", "second": "model_b", "tie": "tie"}
    frame = pd.DataFrame(
        {
            "model_a": ["a"] * 20,
            "model_b": ["b"] * 20,
            "winner": [winner[x] for x in human_labels],
            "prompt_id": [f"p{i}" for i in range(20)],
        }
    )
    human = battles_from_frame(frame, source="h", locations=[str(i) for i in range(20)])
    result = human_agreement(_labelled(labels), human, rounds=300)
    assert result.kappa == pytest.approx(cohen_kappa(human_labels, labels))
    assert result.kappa_ci_low < result.kappa < result.kappa_ci_high <= 1.0


class AlwaysFirstJudge:
    """Says [[A>B]] whatever it is shown: pure position bias (every item flips)."""

    def generate(self, requests: Sequence[GenerateRequest], progress: object = None) -> list:
        return [Generation("[[A>B]]") for _ in requests]


def test_judge_command_with_two_judges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lmaudit.backends.registry as registry

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from test_arena_judges import ScriptedJudge, _outputs

    files = []
    for outputs in _outputs():
        path = tmp_path / f"{outputs.model}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"id": pid, "prompt": p, "output": a}) + "\n"
                for pid, (p, a) in outputs.answers.items()
            )
        )
        files.append(str(path))

    def load(spec: str, options: object = None) -> object:
        return ScriptedJudge() if spec == "fake:scripted" else AlwaysFirstJudge()

    monkeypatch.setattr(registry, "load_backend", load)
    argv = ["arena", "judge", "--judge", "fake:scripted", "--judge", "fake:first"]
    argv += ["--outputs", *files, "--bootstrap", "50", "--json", str(tmp_path / "j.json")]
    assert main([*argv, "--family", "fake:first=x"]) == 0
    out = capsys.readouterr().out
    assert "judge bias (fake:scripted" in out and "judge bias (fake:first" in out
    assert "Krippendorff's alpha (nominal)" in out and "Cohen's kappa fake:scripted vs" in out
    assert re.search(r"position flips: 100\.0% \[[\d.]+%, 100\.0%\]", out)
    assert "position term: no finite estimate (the first answer always won)" in out
    assert "position term (Bradley-Terry, first shown)" in out  # the scripted judge's
    payload = json.loads((tmp_path / "j.json").read_text())
    first_judge = payload["judges"][1]
    assert first_judge["bias"]["flip_rate"]["value"] == 1.0
    assert first_judge["bias"]["self_preference"]["own_models"] == ["x"]
    assert first_judge["bias"]["self_preference"]["matched_against"] == ["fake:scripted"]
    assert payload["judge_agreement"]["judges"] == ["fake:scripted", "fake:first"]
    assert main(["arena", "judge", "--judge", "a:b", "--judge", "a:b", "--outputs", *files]) == 2
