"""The detector validation lab: train a contaminated model and its clean twin, score every
planted and held-out item with every detector, and measure how well each one separates them.

Models (all `lmaudit.lab` models trained from scratch with the same `LabConfig` and one
pass over their stream, see `plant`):

- `contaminated`: base corpus + planted items + canaries (training seed `seed`);
- `clean`: the twin, the same base corpus and seed, nothing planted;
- `reference`: a disjoint base corpus, seed `seed + 1`, nothing planted. It is the
  reference of the reference-model ratio for BOTH targets: the clean twin would be the
  ideal reference for the contaminated model but cannot be its own reference, and one
  reference for both keeps the ratio the same detector on both models.

Detectors (per item, higher = more likely seen; `lmaudit.contamination.membership` for the
likelihood scores, on the item scored as `<|endoftext|> document`, the training layout):
`ngram` (share of the item's 13-grams found in the model's training corpus, from the
n-gram scan), `loss`, `zlib`, `min_k` and `min_k_plus_plus` (k = 0.2), `reference_ratio`,
and `semantic` (the highest embedding cosine between the item and a corpus chunk, from
`lmaudit.contamination.semantic`) when sentence-transformers and its model are available.

Grid: for every detector, form and exposure, the members of that cell against all
non-members (`roc.operating_characteristics`). Validity gate (`gate`): see `GATE_NOTE`.
"""

from __future__ import annotations

import time
import zlib as zlib_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.contamination.validation.detectors import (
    DETECTORS,
    LIKELIHOOD_DETECTORS,
    likelihood_detector_scores,
    ngram_scores,
    score_texts,
    semantic_available,
    semantic_scores,
    write_corpus,
)
from lmaudit.contamination.validation.plant import LabCorpora, PlantSpec, build_corpora
from lmaudit.contamination.validation.roc import (
    Interval,
    OperatingCharacteristics,
    auroc,
    bootstrap_auroc_interval,
    operating_characteristics,
)
from lmaudit.core.types import LmauditError
from lmaudit.lab.model import LabConfig

CANARY_MIN_AUROC = 0.95
CLEAN_FAMILY_ALPHA = 0.05
GATE_NOTE = (
    "Validity gate: (1) on the contaminated model every likelihood detector must separate "
    f"the planted canaries from fresh random strings with AUROC >= {CANARY_MIN_AUROC}; "
    "(2) on the clean twin, for every detector, the AUROC of all members (every cell "
    "pooled) against the non-members must have a bootstrap interval containing 0.5, at "
    f"the Bonferroni level 1 - {CLEAN_FAMILY_ALPHA}/(number of detectors) so that the "
    "gate is not failed by chance alone. If either fails, the lab measured nothing."
)

Grid = dict[str, dict[str, dict[int, OperatingCharacteristics]]]
Log = Callable[[str], None]


@dataclass(frozen=True)
class ValidationConfig:
    """A lab configuration: what to plant (`plant`), the model and schedule (`lab`; its
    `epochs` is the number of passes over the base corpus, a planted text is seen exactly
    its exposure count), bootstrap replicates, and whether to run the semantic detector
    (None: when it is available)."""

    name: str
    plant: PlantSpec
    lab: LabConfig
    bootstrap: int = 1000
    semantic: bool | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.lab.epochs < 1 or self.lab.epochs != int(self.lab.epochs):
            raise ValueError(f"epochs (passes over the base corpus) must be a whole number "
                             f">= 1, got {self.lab.epochs}")
        if self.lab.max_steps is not None:
            raise ValueError("max_steps would cut planted copies out of training; leave it None")

    @property
    def seed(self) -> int:
        return self.plant.seed

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plant": asdict(self.plant), "lab": self.lab.to_dict(),
                "bootstrap": self.bootstrap, "semantic": self.semantic}


SMALL_LAB = LabConfig(
    vocab_size=512, d_model=64, n_layers=2, n_heads=2, d_ff=192, context=192,
    epochs=6, batch_size=8, lr=6e-3, warmup_steps=10,
)
FULL_LAB = LabConfig(
    vocab_size=1024, d_model=128, n_layers=4, n_heads=4, d_ff=384, context=192,
    epochs=8, batch_size=8, lr=6e-3, warmup_steps=20,
)


def preset(name: str, seed: int = 0) -> ValidationConfig:
    """`small` (CI: exposures 1, 4, 16, 32; 10 items per cell, 50 non-members; a 0.14M-
    parameter model, 6 passes, batch 8) or `full` (exposures 1-32; 20 items per cell, 120
    non-members; a 1M-parameter model, 8 passes, batch 8).

    Tuned on a 2-core CPU: at batch 16 the full model reached only AUROC 0.88 (loss) on
    verbatim copies seen 32 times; at batch 8 both presets memorize enough for the canary
    gate (AUROC 1.0 for every likelihood detector, seeds 0-3) and separate verbatim copies
    seen 16-32 times (AUROC 0.85-1.0), while 1-2 exposures stay near chance."""
    if name == "small":
        spec = PlantSpec(
            exposures=(1, 4, 16, 32), items_per_cell=10, nonmembers=50, train_items=100,
            filler=150, passes=int(SMALL_LAB.epochs), canaries=8, canary_exposure=32,
            seed=seed,
        )
        return ValidationConfig("small", spec, SMALL_LAB, bootstrap=500)
    if name == "full":
        spec = PlantSpec(
            exposures=(1, 2, 4, 8, 16, 32), items_per_cell=20, nonmembers=120,
            train_items=300, filler=400, passes=int(FULL_LAB.epochs), canaries=16,
            canary_exposure=32, seed=seed,
        )
        return ValidationConfig("full", spec, FULL_LAB, bootstrap=2000)
    raise ValueError(f"unknown configuration {name!r}: use small or full")


def with_overrides(
    config: ValidationConfig,
    *,
    exposures: Sequence[int] | None = None,
    forms: Sequence[str] | None = None,
    items_per_cell: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> ValidationConfig:
    """`config` with the CLI's overrides applied (None keeps a value)."""
    plant = config.plant
    lab = config.lab
    if epochs is not None:
        lab = replace(lab, epochs=float(epochs))
        plant = replace(plant, passes=int(epochs))
    plant = replace(
        plant,
        exposures=tuple(exposures) if exposures is not None else plant.exposures,
        forms=tuple(forms) if forms is not None else plant.forms,
        items_per_cell=items_per_cell if items_per_cell is not None else plant.items_per_cell,
        seed=seed if seed is not None else plant.seed,
    )
    return replace(config, plant=plant, lab=lab)


@dataclass(frozen=True)
class GateResult:
    """`canary[d]`: canary AUROC of likelihood detector d on the contaminated model;
    `clean[d]`: pooled member-vs-non-member AUROC interval of d on the clean twin."""

    passed: bool
    canary: Mapping[str, float]
    clean: Mapping[str, Interval]
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ValidationResult:
    config: ValidationConfig
    detectors: tuple[str, ...]
    grid: Grid
    clean_grid: Grid
    gate: GateResult
    timings: Mapping[str, float]
    training: Mapping[str, Mapping[str, Any]]
    scores: Mapping[str, Mapping[str, np.ndarray]] = field(repr=False)
    corpora: LabCorpora = field(repr=False)


# --- grid and gate ---------------------------------------------------------------------


def _seed(*parts: object) -> int:
    return zlib_module.crc32("/".join(map(str, parts)).encode("utf-8"))


def cell_grid(
    scores: Mapping[str, np.ndarray], corpora: LabCorpora, replicates: int
) -> Grid:
    """Per detector, form and exposure: members of the cell vs all item non-members."""
    index = {item.id: k for k, item in enumerate(corpora.eval_items) if item.kind == "item"}
    nonmember_rows = [index[item.id] for item in corpora.nonmembers()]
    grid: Grid = {}
    spec = corpora.spec
    for detector, values in scores.items():
        grid[detector] = {}
        for form in spec.forms:
            grid[detector][form] = {}
            for exposure in spec.exposures:
                rows = [index[item.id] for item in corpora.members(form, exposure)]
                grid[detector][form][exposure] = operating_characteristics(
                    values[rows], values[nonmember_rows], replicates=replicates,
                    seed=_seed(spec.seed, detector, form, exposure),
                )
    return grid


def gate(
    contaminated: Mapping[str, np.ndarray],
    clean: Mapping[str, np.ndarray],
    corpora: LabCorpora,
    replicates: int,
) -> GateResult:
    """The validity gate (`GATE_NOTE`)."""
    items = corpora.eval_items
    planted = [k for k, e in enumerate(items) if e.kind == "canary" and e.member]
    fresh = [k for k, e in enumerate(items) if e.kind == "canary" and not e.member]
    members = [k for k, e in enumerate(items) if e.kind == "item" and e.member]
    nonmembers = [k for k, e in enumerate(items) if e.kind == "item" and not e.member]
    failures: list[str] = []
    canary: dict[str, float] = {}
    for detector in LIKELIHOOD_DETECTORS:
        if detector not in contaminated:
            continue
        values = contaminated[detector]
        canary[detector] = auroc(values[planted], values[fresh])
        if canary[detector] < CANARY_MIN_AUROC:
            failures.append(
                f"canaries: {detector} AUROC {canary[detector]:.3f} < {CANARY_MIN_AUROC} on "
                "the contaminated model (training too weak to memorize)"
            )
    level = 1.0 - CLEAN_FAMILY_ALPHA / max(len(clean), 1)
    intervals: dict[str, Interval] = {}
    for detector, values in clean.items():
        interval = bootstrap_auroc_interval(
            values[members], values[nonmembers], level=level, replicates=replicates,
            seed=_seed(corpora.spec.seed, "clean-gate", detector),
        )
        intervals[detector] = interval
        if not interval.contains(0.5):
            failures.append(
                f"clean twin: {detector} pooled AUROC {interval.point:.3f} "
                f"[{interval.low:.3f}, {interval.high:.3f}] excludes 0.5 (members and "
                "non-members differ before any contamination)"
            )
    return GateResult(not failures, canary, intervals, tuple(failures))


# --- orchestration ---------------------------------------------------------------------


def _train(
    name: str, corpus: Any, config: ValidationConfig, out: Path, seed: int, progress: bool
) -> tuple[Path, dict[str, Any]]:
    from lmaudit.lab.train import read_lab_card, train_lab_model

    path = train_lab_model(
        f"validation-{name}", corpus, out_dir=out / "models" / name,
        config=replace(config.lab, epochs=1.0), seed=seed, threads=config.threads,
        progress=progress,
    )
    card = read_lab_card(path) or {}
    return path, dict(card.get("training", {}))


def run_validation(
    config: ValidationConfig, out_dir: Path, *, progress: bool = False, log: Log | None = None
) -> ValidationResult:
    """Build the corpora, train the three models, score, and measure grid and gate."""
    say = log or (lambda _message: None)
    out = Path(out_dir)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    corpora = build_corpora(config.plant)
    corpus_dir = out / "corpus"
    clean_file = write_corpus(corpus_dir / "clean.jsonl", corpora.clean.documents)
    planted_file = write_corpus(corpus_dir / "planted.jsonl", [r.text for r in corpora.planted])
    timings["corpus_s"] = time.perf_counter() - tick
    say(f"corpus: {len(corpora.contaminated.documents)} training documents "
        f"({corpora.contaminated.composition}), {len(corpora.eval_items)} scored texts")

    training: dict[str, dict[str, Any]] = {}
    model_dirs: dict[str, Path] = {}
    seeds = {"contaminated": config.seed, "clean": config.seed, "reference": config.seed + 1}
    for name in ("contaminated", "clean", "reference"):
        tick = time.perf_counter()
        model_dirs[name], training[name] = _train(
            name, getattr(corpora, name), config, out, seeds[name], progress
        )
        timings[f"train_{name}_s"] = time.perf_counter() - tick
        say(f"trained {name}: {training[name].get('steps')} steps, final loss "
            f"{training[name].get('final_loss', float('nan')):.3f} nats/token, "
            f"{timings[f'train_{name}_s']:.1f} s")

    tick = time.perf_counter()
    texts = [item.text for item in corpora.eval_items]
    token_scores = {name: score_texts(path, texts) for name, path in model_dirs.items()}
    scores: dict[str, dict[str, np.ndarray]] = {
        target: likelihood_detector_scores(texts, token_scores[target], token_scores["reference"])
        for target in ("contaminated", "clean")
    }
    timings["score_likelihood_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    scores["contaminated"]["ngram"] = ngram_scores(corpora.eval_items, [clean_file, planted_file])
    scores["clean"]["ngram"] = ngram_scores(corpora.eval_items, [clean_file])
    timings["score_ngram_s"] = time.perf_counter() - tick

    use_semantic = semantic_available() if config.semantic is None else config.semantic
    if use_semantic:
        tick = time.perf_counter()
        try:
            base_cosine, planted_cosine = semantic_scores(
                corpora.eval_items, [[clean_file], [planted_file]]
            )
        except LmauditError as error:
            if config.semantic:  # asked for explicitly: an error
                raise
            say(f"semantic detector skipped: {error}")
        else:
            # The contaminated corpus is the clean one plus the planted texts.
            scores["clean"]["semantic"] = base_cosine
            scores["contaminated"]["semantic"] = np.maximum(base_cosine, planted_cosine)
            timings["score_semantic_s"] = time.perf_counter() - tick
    detectors = tuple(d for d in DETECTORS if d in scores["contaminated"])

    tick = time.perf_counter()
    ordered = {t: {d: scores[t][d] for d in detectors} for t in scores}
    grid = cell_grid(ordered["contaminated"], corpora, config.bootstrap)
    clean_grid = cell_grid(ordered["clean"], corpora, config.bootstrap)
    checked = gate(ordered["contaminated"], ordered["clean"], corpora, config.bootstrap)
    timings["statistics_s"] = time.perf_counter() - tick
    return ValidationResult(
        config, detectors, grid, clean_grid, checked, timings, training, ordered, corpora
    )
