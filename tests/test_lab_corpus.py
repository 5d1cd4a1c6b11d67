"""The lab corpus: stand-in word problems, filler, planting, paths (no torch needed)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.lab import wordproblems
from lmaudit.lab.corpus import (
    benchmark_corpus,
    build_lab_corpus,
    problem_source,
    question_prompt,
    split_documents,
)
from lmaudit.lab.filler import filler_documents
from lmaudit.lab.paths import lab_dir, lab_model_path, lmaudit_home, resolve_lab_model

# Each template's answer written out from its variables, independently of the generator.
EXPECTED_ANSWER = {
    "t0": lambda v: v["a"] + v["b"],
    "t1": lambda v: v["a"] - v["b"],
    "t2": lambda v: v["a"] * v["b"],
    "t3": lambda v: v["c"] - v["a"] * v["b"],
    "t4": lambda v: 3 * v["a"] + v["b"],
    "t5": lambda v: v["a"],
    "t6": lambda v: v["a"] * v["b"] - v["c"],
    "t7": lambda v: v["a"] * v["b"] - v["c"],
}


def test_wordproblem_answers_follow_from_their_numbers() -> None:
    items = wordproblems.load_split("train", 400)
    assert {item.template_id for item in items} == set(EXPECTED_ANSWER)
    for item in items:
        assert item.answer == str(EXPECTED_ANSWER[item.template_id](item.variables))
        assert re.fullmatch(r"0|[1-9]\d*", item.answer), item
        numbers = [int(x) for x in re.findall(r"\d+", item.question)]
        assert item.variables["a"] in numbers or item.template_id == "t5"
        assert 20 <= len(item.question.split()) <= 50


def test_share_template_states_the_total_not_the_answer() -> None:
    item = next(i for i in wordproblems.load_split("test") if i.template_id == "t5")
    a, b = int(item.variables["a"]), int(item.variables["b"])
    assert f" {a * b} " in item.question and item.answer == str(a)


def test_splits_are_disjoint_deterministic_and_prefix_stable() -> None:
    test, ref, train = (wordproblems.load_split(s) for s in ("test", "ref", "train"))
    assert (len(test), len(ref), len(train)) == (100, 100, 2000)
    questions = [{i.question for i in split} for split in (test, ref, train)]
    assert sum(map(len, questions)) == 2200  # no duplicates within or across splits
    assert wordproblems.load_split("test", 7) == test[:7]
    assert [i.id for i in test[:2]] == ["test-00000", "test-00001"]
    with pytest.raises(LmauditError, match="unknown split 'dev'"):
        wordproblems.load_split("dev")


def test_document_format_and_question_prompt() -> None:
    item = wordproblems.load_split("test", 1)[0]
    document = wordproblems.format_document(item)
    assert document == f"Question: {item.question}\nAnswer: {item.answer}"
    assert question_prompt(document) == f"Question: {item.question}\nAnswer:"
    assert document.startswith(question_prompt(document))
    with pytest.raises(ValueError):
        question_prompt("no answer line")


def test_filler_is_deterministic_varied_english() -> None:
    first, again = filler_documents(50, seed=3), filler_documents(50, seed=3)
    assert first == again and first != filler_documents(50, seed=4)
    assert len(set(first)) == 50
    sentences = [s for doc in first for s in re.split(r"(?<=\.) ", doc)]
    assert all(s[0].isupper() and s.endswith(".") for s in sentences)
    assert len(set(sentences)) > 0.9 * len(sentences)


def test_planted_documents_appear_exactly_exposures_times() -> None:
    train = [f"Question: q{i}?\nAnswer: {i}" for i in range(30)]
    planted = ["Question: secret one?\nAnswer: 11", "Question: secret two?\nAnswer: 22"]
    corpus = build_lab_corpus(train, contaminate_with=planted, exposures=5, filler=10, seed=1)
    counts = Counter(corpus.documents)
    assert [counts[p] for p in planted] == [5, 5]
    assert all(counts[d] == 1 for d in train)
    assert dict(corpus.composition) == {"benchmark": 30, "filler": 10, "planted": 10}
    assert len(corpus.documents) == 50 and dict(corpus.planted) == dict.fromkeys(planted, 5)
    same = build_lab_corpus(train, contaminate_with=planted, exposures=5, filler=10, seed=1)
    other = build_lab_corpus(train, contaminate_with=planted, exposures=5, filler=10, seed=2)
    assert same.sha256() == corpus.sha256() != other.sha256()
    assert sorted(other.documents) != sorted(corpus.documents)  # filler depends on the seed
    clean = build_lab_corpus(train, filler=10, seed=1)
    assert clean.composition["planted"] == 0 and not clean.planted
    with pytest.raises(LmauditError, match="exposures = 0"):
        build_lab_corpus(train, contaminate_with=planted, exposures=0)


def test_benchmark_corpus_from_the_stand_in_source() -> None:
    source = problem_source("wordproblems")
    corpus = benchmark_corpus("wordproblems", contaminate_split="test", exposures=3,
                              train_items=40, filler=8)
    test_docs = split_documents(source, "test")
    assert corpus.composition == {"benchmark": 40, "filler": 8, "planted": 300}
    assert set(corpus.planted) == set(test_docs)
    assert "wordproblems test split x3" in corpus.description
    assert not set(split_documents(source, "ref")) & set(corpus.documents)
    with pytest.raises(LmauditError, match="unknown corpus source"):
        problem_source("nope")


def test_lab_paths_follow_lmaudit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMAUDIT_HOME", str(tmp_path))
    assert lmaudit_home() == tmp_path and lab_dir() == tmp_path / "lab"
    assert lab_model_path("m1") == tmp_path / "lab" / "m1"
    with pytest.raises(LmauditError, match=r"no lab model named m1 in .*lmaudit lab train"):
        resolve_lab_model("m1")
    (tmp_path / "lab" / "m1").mkdir(parents=True)
    (tmp_path / "lab" / "m1" / "config.json").write_text("{}")
    (tmp_path / "lab" / "m1" / "tokenizer.json").write_text("{}")
    assert resolve_lab_model("m1") == tmp_path / "lab" / "m1"
    with pytest.raises(LmauditError, match="invalid lab model name"):
        lab_model_path("../escape")
    monkeypatch.delenv("LMAUDIT_HOME")
    assert lmaudit_home() == Path.home() / ".cache" / "lmaudit"
