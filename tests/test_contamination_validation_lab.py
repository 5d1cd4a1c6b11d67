"""The validation lab's grid, gate, configuration, report files and CLI (no training here
except in the one slow end-to-end test at the bottom)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from lmaudit.commands._contamination_validate import (
    parse_forms,
    parse_int_list,
    register_validate,
)
from lmaudit.contamination.validation.detectors import (
    LIKELIHOOD_DETECTORS,
    semantic_scores,
    write_corpus,
)
from lmaudit.contamination.validation.lab import (
    CANARY_MIN_AUROC,
    ValidationConfig,
    ValidationResult,
    cell_grid,
    gate,
    preset,
    with_overrides,
)
from lmaudit.contamination.validation.plant import LabCorpora, PlantSpec, build_corpora
from lmaudit.contamination.validation.report import (
    CHARACTERISTICS,
    summary_text,
    write_outputs,
)
from lmaudit.core.types import LmauditError
from lmaudit.lab.model import LabConfig

SPEC = PlantSpec(exposures=(1, 4, 16), items_per_cell=5, nonmembers=25, train_items=10,
                 filler=10, passes=2, canaries=6, canary_exposure=16, seed=3)


@pytest.fixture(scope="module")
def corpora() -> LabCorpora:
    return build_corpora(SPEC)


def _synthetic_scores(corpora: LabCorpora, *, canary_gap: float, clean_shift: float,
                      seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Contaminated: members shifted by log2(exposure), planted canaries by `canary_gap`.
    Clean: pure noise, members shifted by `clean_shift`."""
    rng = np.random.default_rng(seed)
    items = corpora.eval_items
    n = len(items)
    member_shift = np.array([np.log2(e.exposure) if e.kind == "item" and e.member else 0.0
                             for e in items])
    canary = np.array([canary_gap if e.kind == "canary" and e.member else 0.0 for e in items])
    is_member = np.array([e.kind == "item" and e.member for e in items])
    contaminated = {d: rng.normal(size=n) + member_shift + canary for d in LIKELIHOOD_DETECTORS}
    clean = {d: rng.normal(size=n) + clean_shift * is_member for d in LIKELIHOOD_DETECTORS}
    return contaminated, clean


def test_cell_grid_counts_and_known_separations(corpora: LabCorpora) -> None:
    items = corpora.eval_items
    exposure_score = np.array([float(e.exposure) for e in items])  # non-members score 0
    constant = np.zeros(len(items))
    grid = cell_grid({"perfect": exposure_score, "blind": constant}, corpora, replicates=200)
    for form in SPEC.forms:
        for exposure in SPEC.exposures:
            perfect, blind = grid["perfect"][form][exposure], grid["blind"][form][exposure]
            assert (perfect.n_members, perfect.n_nonmembers) == (5, 25)
            assert (perfect.auroc, perfect.tpr_at_1pct_fpr, perfect.tpr_at_5pct_fpr) == (1, 1, 1)
            assert (blind.auroc, blind.ci_low, blind.ci_high) == (0.5, 0.5, 0.5)
            assert blind.tpr_at_5pct_fpr == 0.0  # ties with the threshold are not detected


def test_gate_passes_and_fails_for_the_right_reasons(corpora: LabCorpora) -> None:
    contaminated, clean = _synthetic_scores(corpora, canary_gap=10.0, clean_shift=0.0)
    passed = gate(contaminated, clean, corpora, replicates=500)
    assert passed.passed and not passed.failures
    assert all(v == 1.0 for v in passed.canary.values())
    assert all(i.level == pytest.approx(1 - 0.05 / len(clean)) for i in passed.clean.values())
    weak, _ = _synthetic_scores(corpora, canary_gap=0.0, clean_shift=0.0)
    failed = gate(weak, clean, corpora, replicates=500)
    assert not failed.passed
    assert any(f.startswith("canaries:") for f in failed.failures)
    assert min(failed.canary.values()) < CANARY_MIN_AUROC
    _, biased = _synthetic_scores(corpora, canary_gap=10.0, clean_shift=2.0)
    failed = gate(contaminated, biased, corpora, replicates=500)
    assert not failed.passed
    assert len([f for f in failed.failures if f.startswith("clean twin:")]) == len(biased)


def _result(corpora: LabCorpora, *, canary_gap: float) -> ValidationResult:
    config = ValidationConfig("test", SPEC, preset("small").lab, bootstrap=200)
    contaminated, clean = _synthetic_scores(corpora, canary_gap=canary_gap, clean_shift=0.0)
    detectors = tuple(contaminated)
    return ValidationResult(
        config, detectors, cell_grid(contaminated, corpora, 200), cell_grid(clean, corpora, 200),
        gate(contaminated, clean, corpora, 200), {"train_contaminated_s": 1.0}, {},
        {"contaminated": contaminated, "clean": clean}, corpora,
    )


def test_report_files_and_tables(corpora: LabCorpora, tmp_path: Path) -> None:
    from lmaudit.contamination.verdicts import load_operating_characteristics

    result = _result(corpora, canary_gap=10.0)
    paths = write_outputs(result, tmp_path)
    table = json.loads((tmp_path / CHARACTERISTICS).read_text())
    assert set(table) == set(LIKELIHOOD_DETECTORS)
    cell = table["loss"]["verbatim"]["16"]
    assert set(cell) == {"auroc", "ci_low", "ci_high", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr",
                         "n_members", "n_nonmembers"}
    assert cell["auroc"] == result.grid["loss"]["verbatim"][16].auroc
    assert set(table["loss"]) == set(SPEC.forms) and set(table["loss"]["mapped"]) == {"1", "4",
                                                                                    "16"}
    verdict = load_operating_characteristics(paths["verdict"])
    assert verdict["loss"].auroc == cell["auroc"]
    assert "verbatim copies seen 16 times" in verdict["loss"].condition
    validation = json.loads(paths["validation"].read_text())
    assert validation["gate"]["passed"] is True
    assert set(validation["clean_twin"]["min_k"]) == set(SPEC.forms)
    assert paths["plot"].stat().st_size > 10_000
    frame = __import__("pandas").read_parquet(paths["item_scores"])
    assert len(frame) == len(corpora.eval_items) and "clean.min_k" in frame.columns
    text = summary_text(result, paths)
    assert "Validity gate: PASSED" in text and "form: paraphrase" in text
    assert "TPR at 1% / 5% FPR" in text and "allows no false positive" in text


def test_failed_gate_writes_no_operating_characteristics(
    corpora: LabCorpora, tmp_path: Path
) -> None:
    (tmp_path / CHARACTERISTICS).write_text("{}")  # a stale file from an earlier run
    result = _result(corpora, canary_gap=0.0)
    paths = write_outputs(result, tmp_path)
    assert "characteristics" not in paths and not (tmp_path / CHARACTERISTICS).exists()
    assert "FAILED - the lab measured nothing" in summary_text(result)


class BagOfWords:
    """A toy embedder: hashed word counts (lets the semantic hook run without a model)."""

    name = "bag-of-words"

    def embed(self, texts: list[str]) -> np.ndarray:
        import zlib

        out = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % 256] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def test_semantic_hook_scores_items_against_each_corpus_group(
    corpora: LabCorpora, tmp_path: Path
) -> None:
    planted = write_corpus(tmp_path / "planted.jsonl", [r.text for r in corpora.planted])
    empty = write_corpus(tmp_path / "clean.jsonl", corpora.clean.documents)
    items = list(corpora.eval_items)
    near_planted, near_clean = semantic_scores(items, [[planted], [empty]], BagOfWords())
    for k, item in enumerate(items):
        if item.kind == "canary":
            # planted canaries are in the planted corpus; fresh ones share no word with it
            assert near_planted[k] > 0.99 if item.member else near_planted[k] < 0.5
        elif item.form == "verbatim":
            assert near_planted[k] > 0.9
    assert len(near_clean) == len(items)


def test_scoring_reproduces_the_training_layout(tmp_path: Path) -> None:
    """Token log-probs scored through the HF backend give the same per-document loss as
    the lab's own evaluation of `<|endoftext|> document` (the layout it trained on)."""
    pytest.importorskip("torch")
    from lmaudit.contamination.validation.detectors import score_texts
    from lmaudit.lab.evaluate import document_losses
    from lmaudit.lab.train import train_model

    documents = [f"Question: Ava has {n} pens and buys {n + 3} more.\nAnswer: {2 * n + 3}"
                 for n in range(10, 30)]
    tiny = LabConfig(vocab_size=300, d_model=32, n_layers=1, n_heads=2, d_ff=64, context=64,
                     batch_size=4, max_steps=3, warmup_steps=1)
    model, tokenizer, _ = train_model(documents, tiny, seed=0, threads=1, progress=False)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scored = score_texts(tmp_path, documents[:5])
    expected = document_losses(model, tokenizer, documents[:5])
    for text, item, loss in zip(documents, scored, expected, strict=False):
        assert len(item.logprobs) == len(tokenizer(text)["input_ids"])
        assert -float(np.mean(item.logprobs)) == pytest.approx(loss, abs=1e-4)
        assert len(item.means) == len(item.variances) == len(item.logprobs)


def test_presets_and_overrides() -> None:
    small, full = preset("small"), preset("full")
    assert small.plant.exposures == (1, 4, 16, 32)
    assert full.plant.exposures == (1, 2, 4, 8, 16, 32)
    assert small.plant.passes == small.lab.epochs and full.plant.passes == full.lab.epochs
    changed = with_overrides(small, exposures=[2, 8], forms=["verbatim"], items_per_cell=3,
                             epochs=9, seed=4)
    assert changed.plant.exposures == (2, 8) and changed.plant.forms == ("verbatim",)
    assert (changed.plant.items_per_cell, changed.plant.passes, changed.lab.epochs) == (3, 9, 9)
    assert changed.seed == 4 and changed.lab.d_model == small.lab.d_model
    with pytest.raises(ValueError, match="whole number"):
        ValidationConfig("x", small.plant, LabConfig(epochs=2.5))
    with pytest.raises(ValueError, match="max_steps"):
        ValidationConfig("x", small.plant, LabConfig(max_steps=10))
    with pytest.raises(ValueError, match="unknown configuration"):
        preset("medium")


def test_cli_arguments() -> None:
    assert parse_int_list("1, 2,4", "--exposures") == (1, 2, 4)
    for bad in ("1,x", "2,2", "0", ""):
        with pytest.raises(LmauditError, match="--exposures"):
            parse_int_list(bad, "--exposures")
    assert parse_forms("verbatim,mapped") == ("verbatim", "mapped")
    with pytest.raises(LmauditError, match="--forms"):
        parse_forms("verbatim,summary")
    parser = argparse.ArgumentParser()
    register_validate(parser.add_subparsers())
    args = parser.parse_args(["validate"])
    assert (args.config, args.seed, args.no_semantic, args.out) == ("small", 0, False, None)
    for argv, message in ((["--items-per-cell", "0"], "--items-per-cell"),
                          (["--forms", "verbatim,x"], "--forms"),
                          (["--exposures", "1,1"], "--exposures")):
        args = parser.parse_args(["validate", *argv])
        with pytest.raises(LmauditError, match=message):
            args.func(args)


@pytest.mark.slow
def test_small_configuration_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """The CI configuration through the CLI: trains three 0.14M-parameter models on CPU."""
    pytest.importorskip("torch")
    parser = argparse.ArgumentParser()
    register_validate(parser.add_subparsers())
    args = parser.parse_args(["validate", "--config", "small", "--no-semantic",
                              "--out", str(tmp_path)])
    assert args.func(args) == 0  # the validity gate passed
    printed = capsys.readouterr().out
    assert "Validity gate: PASSED" in printed and "operating characteristics:" in printed
    table = json.loads((tmp_path / CHARACTERISTICS).read_text())
    validation = json.loads((tmp_path / "validation.json").read_text())
    # Memorization: the likelihood detectors separate verbatim copies seen 32 times.
    for detector in ("loss", "min_k"):
        assert table[detector]["verbatim"]["32"]["auroc"] >= 0.85, detector
        assert table[detector]["verbatim"]["32"]["ci_low"] > 0.5, detector
        assert validation["gate"]["canary_auroc"][detector] >= CANARY_MIN_AUROC
    # n-grams: perfect on verbatim copies at every exposure, blind to rewrites.
    for exposure in ("1", "4", "16", "32"):
        assert table["ngram"]["verbatim"][exposure]["auroc"] == 1.0
        assert table["ngram"]["paraphrase"][exposure]["auroc"] == 0.5
        assert table["ngram"]["mapped"][exposure]["auroc"] == 0.5
    # The clean twin sits at chance: pooled intervals contain 0.5 (the gate) and the
    # pooled point estimates are near it.
    for detector, pooled in validation["gate"]["clean_twin_pooled"].items():
        assert pooled["ci_low"] <= 0.5 <= pooled["ci_high"], detector
        assert abs(pooled["auroc"] - 0.5) < 0.15, detector
    assert (tmp_path / "auroc_vs_exposure.png").is_file()
