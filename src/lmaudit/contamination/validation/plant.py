"""The validation lab's corpora: a base corpus, planted items at known exposures, canaries.

Three training streams are built, each one pass of `train_model` (LabConfig.epochs = 1):

- `contaminated`: the base corpus repeated `passes` times, plus, for every member item,
  exactly `exposure` copies of its planted form, plus `canary_exposure` copies of every
  planted canary, all shuffled together with a seeded RNG. A planted text is therefore
  seen exactly `exposure` times in training, whatever `passes` is.
- `clean` (the twin): the same base corpus repeated `passes` times, shuffled, nothing
  planted.
- `reference` (for the reference-model ratio): a disjoint base corpus (other filler
  paragraphs, other benchmark-style training items), `passes` times, nothing planted.

Base corpus: filler English (`lmaudit.lab.filler`) plus `train_items` generated items of the
same families as the benchmark (so the twin knows the item format and a member's lower loss
reflects memorization, not the format). Items are split with a seeded RNG into members,
assigned to the (form, exposure) cells in turn, and non-members, never planted; the split
is stratified by item family (`stratified_order`).

Canaries: random strings of 8 groups of 4 letters and digits; half are planted, half stay
fresh (never planted) and serve as their non-members.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.contamination.validation.items import (
    FAMILIES,
    FORMS,
    BenchmarkItem,
    WordMapping,
    form_document,
    generate_items,
    text_words,
)
from lmaudit.lab.corpus import LabCorpus
from lmaudit.lab.filler import filler_documents

REFERENCE_FILLER_OFFSET = 1_000_003
_CANARY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class PlantSpec:
    """What to plant and in how much base text (counts are documents or items)."""

    forms: tuple[str, ...] = FORMS
    exposures: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    items_per_cell: int = 20
    nonmembers: int = 100
    train_items: int = 200
    filler: int = 400
    passes: int = 8
    canaries: int = 16
    canary_exposure: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [f for f in self.forms if f not in FORMS]
        if unknown or not self.forms or len(set(self.forms)) != len(self.forms):
            raise ValueError(f"forms must be distinct names among {', '.join(FORMS)}")
        if not self.exposures or any(e < 1 for e in self.exposures):
            raise ValueError("exposures must be positive integers")
        if len(set(self.exposures)) != len(self.exposures):
            raise ValueError("exposures must be distinct")
        for name in ("items_per_cell", "nonmembers", "passes", "canaries", "canary_exposure"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.train_items < 0 or self.filler < 0 or self.train_items + self.filler == 0:
            raise ValueError("the base corpus needs filler or training items")

    @property
    def members(self) -> int:
        return len(self.forms) * len(self.exposures) * self.items_per_cell


@dataclass(frozen=True)
class EvalItem:
    """A text every detector scores. `form`/`exposure` locate a member's cell (None / 0
    for non-members); `kind` is `item` or `canary`."""

    id: str
    text: str
    kind: str
    member: bool
    form: str | None = None
    exposure: int = 0
    family: str | None = None
    question: str = ""
    answer: str = ""


@dataclass(frozen=True)
class PlantRecord:
    """One planted text: which item, in which form, how many copies, at which positions
    of the contaminated training stream (document indices, 0-based)."""

    item_id: str
    form: str
    exposure: int
    text: str
    positions: tuple[int, ...]


@dataclass(frozen=True)
class LabCorpora:
    """The three training streams, the evaluation set and the planting manifest."""

    spec: PlantSpec
    contaminated: LabCorpus
    clean: LabCorpus
    reference: LabCorpus
    eval_items: tuple[EvalItem, ...]
    planted: tuple[PlantRecord, ...]
    mapping: WordMapping
    base_documents: tuple[str, ...]
    reference_base_documents: tuple[str, ...]

    def members(self, form: str, exposure: int) -> list[EvalItem]:
        return [e for e in self.eval_items
                if e.kind == "item" and e.member and e.form == form and e.exposure == exposure]

    def nonmembers(self) -> list[EvalItem]:
        return [e for e in self.eval_items if e.kind == "item" and not e.member]

    def manifest(self) -> dict[str, object]:
        """What was planted where (JSON-ready)."""
        return {
            "seed": self.spec.seed,
            "passes": self.spec.passes,
            "stream_documents": len(self.contaminated.documents),
            "planted": [
                {"item_id": r.item_id, "form": r.form, "exposure": r.exposure,
                 "copies": len(r.positions), "positions": list(r.positions), "text": r.text}
                for r in self.planted
            ],
            "nonmembers": [e.id for e in self.nonmembers()],
            "fresh_canaries": [e.id for e in self.eval_items
                               if e.kind == "canary" and not e.member],
        }


def random_canaries(n: int, seed: int) -> list[str]:
    """`n` distinct random strings of 8 space-separated groups of 4 letters/digits."""
    rng = random.Random(f"lmaudit-validation-canaries-{seed}")
    found: dict[str, None] = {}
    while len(found) < n:
        groups = ("".join(rng.choice(_CANARY_ALPHABET) for _ in range(4)) for _ in range(8))
        found[" ".join(groups)] = None
    return list(found)


def stratified_order(items: Sequence[BenchmarkItem], seed: int) -> list[BenchmarkItem]:
    """Items shuffled within each family (seeded), then dealt out one family at a time, so
    every run of consecutive items (a cell, the non-members) has a near-even family mix
    (item difficulty varies by family; an uneven mix would bias the AUROC)."""
    rng = random.Random(f"lmaudit-validation-split-{seed}")
    groups = [[i for i in items if i.family == family] for family in FAMILIES]
    for group in groups:
        rng.shuffle(group)
    longest = max((len(g) for g in groups), default=0)
    return [group[k] for k in range(longest) for group in groups if k < len(group)]


def _stream(
    base: Sequence[str], passes: int, planted: Sequence[tuple[str, int]], rng_name: str
) -> tuple[list[str], dict[str, list[int]]]:
    """Base documents `passes` times plus `copies` of each planted text, shuffled; and the
    positions of every planted text in the shuffled stream."""
    tagged: list[tuple[str, bool]] = [(doc, False) for _ in range(passes) for doc in base]
    tagged += [(text, True) for text, copies in planted for _ in range(copies)]
    random.Random(rng_name).shuffle(tagged)
    positions: dict[str, list[int]] = {text: [] for text, _ in planted}
    for index, (text, is_planted) in enumerate(tagged):
        if is_planted:
            positions[text].append(index)
    return [text for text, _ in tagged], positions


def build_corpora(spec: PlantSpec) -> LabCorpora:
    """Generate items, split them, plant them and build the three streams (deterministic)."""
    pool_size = spec.members + spec.nonmembers
    items = stratified_order(
        generate_items(pool_size + 2 * spec.train_items, seed=spec.seed), spec.seed
    )
    pool = items[:pool_size]
    train = items[pool_size : pool_size + spec.train_items]
    reference_train = items[pool_size + spec.train_items :]
    base = [*filler_documents(spec.filler, seed=spec.seed), *(i.document for i in train)]
    reference_base = [
        *filler_documents(spec.filler, seed=spec.seed + REFERENCE_FILLER_OFFSET),
        *(i.document for i in reference_train),
    ]
    cells = [(form, exposure) for form in spec.forms for exposure in spec.exposures]
    assigned: list[tuple[BenchmarkItem, str, int]] = []
    for k, item in enumerate(pool[: spec.members]):
        form, exposure = cells[k // spec.items_per_cell]
        assigned.append((item, form, exposure))
    reserved = {w.lower() for text in (*base, *reference_base) for w in text_words(text)}
    reserved |= {w.lower() for i in pool for w in text_words(i.paraphrase_document)}
    mapping = WordMapping.for_texts(
        [i.document for i in pool], spec.seed, reserved=reserved
    )
    canaries = random_canaries(2 * spec.canaries, spec.seed)
    planted_canaries, fresh_canaries = canaries[: spec.canaries], canaries[spec.canaries :]
    plan: list[tuple[str, int]] = [
        (form_document(item, form, mapping), exposure) for item, form, exposure in assigned
    ]
    plan += [(text, spec.canary_exposure) for text in planted_canaries]
    stream, positions = _stream(base, spec.passes, plan, f"lmaudit-validation-{spec.seed}")
    clean_stream, _ = _stream(base, spec.passes, [], f"lmaudit-validation-{spec.seed}")
    reference_stream, _ = _stream(
        reference_base, spec.passes, [], f"lmaudit-validation-reference-{spec.seed}"
    )
    if len({text for text, _ in plan}) != len(plan):
        raise AssertionError("two planted texts are identical")
    records = [
        PlantRecord(item.id, form, exposure, text, tuple(positions[text]))
        for (item, form, exposure), (text, _) in zip(assigned, plan[: len(assigned)], strict=True)
    ]
    records += [
        PlantRecord(f"canary-{k:03d}", "canary", spec.canary_exposure, text,
                    tuple(positions[text]))
        for k, text in enumerate(planted_canaries)
    ]
    eval_items = [
        EvalItem(item.id, item.document, "item", True, form, exposure, item.family,
                 item.question, item.answer)
        for item, form, exposure in assigned
    ]
    eval_items += [
        EvalItem(item.id, item.document, "item", False, None, 0, item.family,
                 item.question, item.answer)
        for item in pool[spec.members :]
    ]
    eval_items += [
        EvalItem(f"canary-{k:03d}", text, "canary", True, "canary", spec.canary_exposure)
        for k, text in enumerate(planted_canaries)
    ]
    eval_items += [
        EvalItem(f"fresh-canary-{k:03d}", text, "canary", False)
        for k, text in enumerate(fresh_canaries)
    ]
    n_base = len(base) * spec.passes
    contaminated = LabCorpus(
        tuple(stream),
        f"validation lab seed {spec.seed}: base x{spec.passes} + planted items and canaries",
        {"base": n_base, "planted": len(stream) - n_base},
        {text: copies for text, copies in plan},
    )
    clean = LabCorpus(
        tuple(clean_stream), f"validation lab seed {spec.seed}: base x{spec.passes} (clean twin)",
        {"base": n_base},
    )
    reference = LabCorpus(
        tuple(reference_stream),
        f"validation lab seed {spec.seed}: disjoint base x{spec.passes} (reference model)",
        {"base": len(reference_base) * spec.passes},
    )
    return LabCorpora(
        spec, contaminated, clean, reference, tuple(eval_items), tuple(records), mapping,
        tuple(base), tuple(reference_base),
    )
