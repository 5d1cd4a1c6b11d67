"""Planting: exact exposure counts, the member split, canaries, clean and reference streams."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lmaudit.contamination.validation.detectors import ngram_scores, write_corpus
from lmaudit.contamination.validation.items import FAMILIES, word_ngrams
from lmaudit.contamination.validation.plant import (
    LabCorpora,
    PlantSpec,
    build_corpora,
    random_canaries,
)

SPEC = PlantSpec(
    forms=("verbatim", "question", "paraphrase", "mapped"), exposures=(1, 3, 8),
    items_per_cell=5, nonmembers=15, train_items=20, filler=30, passes=3, canaries=4,
    canary_exposure=12, seed=7,
)


@pytest.fixture(scope="module")
def corpora() -> LabCorpora:
    return build_corpora(SPEC)


def test_every_planted_text_occurs_exactly_its_exposure_count(corpora: LabCorpora) -> None:
    stream = corpora.contaminated.documents
    counts = Counter(stream)
    assert len(corpora.planted) == SPEC.members + SPEC.canaries
    for record in corpora.planted:
        assert counts[record.text] == record.exposure == len(record.positions)
        assert all(stream[p] == record.text for p in record.positions)
    for doc in corpora.base_documents:
        assert counts[doc] == SPEC.passes
    planted_total = sum(r.exposure for r in corpora.planted)
    assert planted_total == 5 * 4 * (1 + 3 + 8) + 4 * 12
    assert len(stream) == SPEC.passes * len(corpora.base_documents) + planted_total
    assert dict(corpora.contaminated.planted) == {r.text: r.exposure for r in corpora.planted}


def test_clean_twin_and_reference_streams(corpora: LabCorpora) -> None:
    base = Counter({doc: SPEC.passes for doc in corpora.base_documents})
    assert Counter(corpora.clean.documents) == base
    assert Counter(corpora.reference.documents) == Counter(
        {doc: SPEC.passes for doc in corpora.reference_base_documents})
    assert not set(corpora.reference_base_documents) & set(corpora.base_documents)
    assert len(corpora.base_documents) == SPEC.filler + SPEC.train_items


def test_members_nonmembers_and_cells(corpora: LabCorpora) -> None:
    items = [e for e in corpora.eval_items if e.kind == "item"]
    assert len(items) == SPEC.members + SPEC.nonmembers
    assert len({e.id for e in items}) == len(items)
    for form in SPEC.forms:
        for exposure in SPEC.exposures:
            cell = corpora.members(form, exposure)
            assert len(cell) == SPEC.items_per_cell
            assert Counter(e.family for e in cell) == dict.fromkeys(FAMILIES, 1)  # stratified
    nonmembers = corpora.nonmembers()
    assert Counter(e.family for e in nonmembers) == dict.fromkeys(FAMILIES, 3)
    stream_text = "\n".join(dict.fromkeys(corpora.contaminated.documents))
    stream_grams = set().union(*(word_ngrams(d) for d in set(corpora.contaminated.documents)))
    for item in nonmembers:  # never planted, in no form
        assert item.question not in stream_text
        assert not word_ngrams(item.text) & stream_grams
    by_id = {r.item_id: r for r in corpora.planted}
    for item in items:
        if item.member:
            record = by_id[item.id]
            assert (record.form, record.exposure) == (item.form, item.exposure)
            assert (record.text == item.text) == (item.form == "verbatim")


def test_canaries_planted_and_fresh(corpora: LabCorpora) -> None:
    canaries = [e for e in corpora.eval_items if e.kind == "canary"]
    planted = [e for e in canaries if e.member]
    fresh = [e for e in canaries if not e.member]
    assert len(planted) == len(fresh) == SPEC.canaries
    counts = Counter(corpora.contaminated.documents)
    assert all(counts[e.text] == SPEC.canary_exposure for e in planted)
    assert all(counts[e.text] == 0 for e in fresh)
    assert all(e.text not in corpora.clean.documents for e in planted)
    strings = random_canaries(6, seed=1)
    assert len(set(strings)) == 6 and all(len(s.split()) == 8 for s in strings)
    assert random_canaries(6, seed=1) == strings != random_canaries(6, seed=2)


def test_build_is_deterministic_and_seeded() -> None:
    assert build_corpora(SPEC).contaminated.sha256() == build_corpora(SPEC).contaminated.sha256()
    other = PlantSpec(**{**SPEC.__dict__, "seed": 8})
    assert build_corpora(other).contaminated.sha256() != build_corpora(SPEC).contaminated.sha256()
    manifest = build_corpora(SPEC).manifest()
    assert len(manifest["planted"]) == SPEC.members + SPEC.canaries  # type: ignore[arg-type]


def test_ngram_scan_sees_verbatim_and_question_copies_only(
    corpora: LabCorpora, tmp_path: Path
) -> None:
    clean = write_corpus(tmp_path / "clean.jsonl", corpora.clean.documents)
    planted = write_corpus(tmp_path / "planted.jsonl", [r.text for r in corpora.planted])
    items = [e for e in corpora.eval_items if e.kind == "item"]
    contaminated_scores = ngram_scores(items, [clean, planted])
    clean_scores = ngram_scores(items, [clean])
    for item, score, clean_score in zip(items, contaminated_scores, clean_scores, strict=True):
        assert clean_score == 0.0
        if item.form in ("verbatim", "question"):
            assert score == 1.0, item.id  # every question 13-gram is found
        else:  # paraphrased, word-mapped and non-members: invisible
            assert score == 0.0, item.id


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("forms", ("verbatim", "summary"), "forms"), ("exposures", (0, 2), "exposures"),
     ("items_per_cell", 0, "items_per_cell"), ("exposures", (2, 2), "distinct")],
)
def test_spec_validation(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlantSpec(**{field: value})  # type: ignore[arg-type]
