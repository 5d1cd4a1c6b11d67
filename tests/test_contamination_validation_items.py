"""Generated validation items and their forms: paraphrases, word mapping, n-gram safety."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lmaudit.contamination.items import ItemText, item_grams
from lmaudit.contamination.normalize import normalized_words
from lmaudit.contamination.validation.items import (
    FAMILIES,
    FORMS,
    WordMapping,
    form_document,
    generate_items,
    text_words,
    word_ngrams,
)


def _scan_hashes(text: str) -> np.ndarray:
    """The 13-gram hashes the n-gram scan computes for `text` (one segment)."""
    return item_grams(ItemText("x", (text,), None), 13, 10).ngram_hashes


@pytest.mark.parametrize("seed", [0, 1])
def test_paraphrase_shares_no_13gram_with_its_item_under_the_scan(seed: int) -> None:
    items = generate_items(300, seed=seed)
    for item in items:
        original, paraphrase = _scan_hashes(item.document), _scan_hashes(item.paraphrase_document)
        assert len(original) > 0 and len(paraphrase) > 0
        assert len(np.intersect1d(original, paraphrase)) == 0, item.id
        # Same facts: the drawn names / numbers of the answer appear in the paraphrase.
        answer_words = set(normalized_words(item.answer)) - {"to", "the", "with"}
        assert answer_words <= set(normalized_words(item.paraphrase_document)), item.id


def test_items_are_balanced_distinct_long_enough_and_share_no_13gram() -> None:
    items = generate_items(250, seed=4)
    assert Counter(i.family for i in items) == dict.fromkeys(FAMILIES, 50)
    assert [i.family for i in items[:5]] == list(FAMILIES)
    assert len({i.document for i in items}) == 250
    assert min(len(normalized_words(i.document)) for i in items) >= 20
    seen: Counter[tuple[str, ...]] = Counter()
    for item in items:
        seen.update(word_ngrams(item.document) | word_ngrams(item.paraphrase_document))
    assert max(seen.values()) == 1  # no 13-gram occurs in two items
    assert {i.difficulty for i in items} == {1, 2, 3, 4, 5}


def test_items_are_deterministic_by_seed() -> None:
    assert generate_items(20, seed=5) == generate_items(20, seed=5)
    assert generate_items(20, seed=5) != generate_items(20, seed=6)
    assert generate_items(30, seed=5)[:20] == generate_items(20, seed=5)  # a prefix


def test_word_mapping_is_a_seeded_bijection() -> None:
    items = generate_items(40, seed=2)
    texts = [i.document for i in items]
    reserved = {"zafe", "question"}
    mapping = WordMapping.for_texts(texts, seed=9, reserved=reserved)
    vocabulary = {w.lower() for t in texts for w in text_words(t)}
    assert set(mapping.forward) == vocabulary
    images = list(mapping.forward.values())
    assert len(set(images)) == len(images)  # injective, hence a bijection onto its image
    assert not set(images) & (vocabulary | reserved)  # nonsense words, never real ones
    for text in texts:
        mapped = mapping.apply(text)
        assert mapping.invert(mapped) == text
        assert not {w.lower() for w in text_words(mapped)} & vocabulary
        assert [c for c in mapped if c.isdigit()] == [c for c in text if c.isdigit()]
    word = max(sorted(vocabulary), key=len)
    assert mapping.apply(f"{word.upper()} {word.capitalize()} {word}") == (
        f"{mapping.forward[word].upper()} {mapping.forward[word].capitalize()} "
        f"{mapping.forward[word]}")
    assert WordMapping.for_texts(texts, seed=9, reserved=reserved) == mapping  # stable
    assert WordMapping.for_texts(texts, seed=10, reserved=reserved).forward != mapping.forward
    with pytest.raises(KeyError, match="not in the mapping"):
        mapping.apply("xylophone")


def test_forms() -> None:
    item = generate_items(1, seed=0)[0]
    mapping = WordMapping.for_texts([item.document], seed=0)
    documents = {form: form_document(item, form, mapping) for form in FORMS}
    assert documents["verbatim"] == f"Question: {item.question}\nAnswer: {item.answer}"
    assert documents["question"] == f"Question: {item.question}"
    assert documents["paraphrase"] == item.paraphrase_document
    assert documents["mapped"] == mapping.apply(item.document)
    assert not word_ngrams(documents["mapped"]) & word_ngrams(item.document)
    with pytest.raises(ValueError, match="WordMapping"):
        form_document(item, "mapped")
    with pytest.raises(ValueError, match="unknown form"):
        form_document(item, "summary")
