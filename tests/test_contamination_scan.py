"""Corpus scan on a generated corpus with planted, paraphrased and word-mapped items."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from lmaudit.cli import main
from lmaudit.contamination.items import benchmark_grams, item_grams, item_text
from lmaudit.contamination.matching import ReadOptions
from lmaudit.contamination.scan import ItemOverlap, ScanConfig, ScanResult, scan_corpus
from lmaudit.core.types import LmauditError, Sample

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"
ITEM_WORDS = [f"item{i}" for i in range(400)]
FILLER_WORDS = [f"fill{i}" for i in range(300)] + ["the", "a", "of", "and"]


def make_item(rng: random.Random, index: int) -> Sample:
    question = " ".join(rng.choice(ITEM_WORDS) for _ in range(rng.randint(20, 40)))
    number = str(1000 + index)
    steps = " ".join(rng.choice(ITEM_WORDS) for _ in range(13))
    solution = f"{steps} so the answer is {number}"  # 17 words, the number last
    return Sample(f"q{index}", f"Question: {question}?\nAnswer:", number,
                  metadata={"fields": {"question": question + "?", "answer": solution}})


def filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(FILLER_WORDS) for _ in range(words))


def paraphrase(text: str) -> str:
    """Swap every pair of neighbouring words: no 3-gram survives."""
    words = text.split()
    for i in range(0, len(words) - 1, 2):
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def word_map(text: str) -> str:
    return " ".join(w.replace("item", "mapped") for w in text.split())


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """20 items: 0-7 planted verbatim (2 per format), 8-10 paraphrased, 11-13 word-mapped,
    14-19 clean. Returns the corpus dir, the samples and where each planted item lives."""
    rng = random.Random(7)
    samples = [make_item(rng, i) for i in range(20)]
    root = tmp_path_factory.mktemp("corpus")
    where: dict[str, set[str]] = {}

    def text_of(i: int) -> str:
        s = samples[i]
        body = f"{s.metadata['fields']['question']} {s.metadata['fields']['answer']}"
        if 8 <= i <= 10:
            body = paraphrase(body)
        elif 11 <= i <= 13:
            body = word_map(body)
        return f"{filler(rng, 30)} {body.upper()} {filler(rng, 30)}"

    docs = [(f"j{k}", filler(rng, 80)) for k in range(40)]
    docs[3] = ("j3", text_of(0))
    docs[30] = ("j30", text_of(1))
    docs[10] = ("j10", text_of(8))
    where.update({"q0": {"j3"}, "q1": {"j30"}})
    with open(root / "a.jsonl", "w") as f:
        for doc_id, text in docs:
            f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    rows = [(f"p{k}", filler(rng, 60)) for k in range(25)]
    rows[5] = ("p5", text_of(2))
    rows[20] = ("p20", text_of(3))
    rows[21] = ("p21", text_of(11))
    where.update({"q2": {"p5"}, "q3": {"p20"}})
    frame = pd.DataFrame({"id": [r[0] for r in rows], "text": [r[1] for r in rows]})
    frame.to_parquet(root / "b.parquet", row_group_size=8)
    paragraphs = [filler(rng, 50) for _ in range(12)]
    paragraphs[2] = text_of(4)
    paragraphs[9] = text_of(12)
    text = "\n\n".join(paragraphs) + "\n"
    (root / "c.txt").write_text(text)
    where["q4"] = {f"c.txt@{text.index(paragraphs[2])}"}
    gz_docs = [filler(rng, 40) for _ in range(15)] + [text_of(5), text_of(9), text_of(13)]
    with gzip.open(root / "d.jsonl.gz", "wt") as f:
        offset = 0
        for k, body in enumerate(gz_docs):
            line = json.dumps({"text": body}) + "\n"  # no id: FILE@OFFSET
            if k == 15:
                where["q5"] = {f"d.jsonl.gz@{offset}"}
            f.write(line)
            offset += len(line.encode())
    gz_text = text_of(6) + "\n\n" + filler(rng, 20) + "\n"
    with gzip.open(root / "e.txt.gz", "wt") as f:
        f.write(gz_text)
    where["q6"] = {"e.txt.gz@0"}
    try:
        import zstandard

        payload = (json.dumps({"id": "z0", "text": text_of(7)}) + "\n").encode()
        (root / "f.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(payload))
        where["q7"] = {"z0"}
    except ImportError:  # .zst is optional: item 7 stays unplanted (clean)
        pass
    return {"root": root, "samples": samples, "where": where}


def scan(planted: dict[str, object], **config: object) -> tuple[dict[str, ItemOverlap], ScanResult]:
    samples = planted["samples"]
    assert isinstance(samples, list)
    items = benchmark_grams(samples, 13, 10)
    result = scan_corpus(items, [str(planted["root"])], ScanConfig(**config))  # type: ignore[arg-type]
    return {o.id: o for o in result.items}, result


def test_finds_every_planted_item_with_its_documents_and_flags_nothing_else(
    planted: dict[str, object],
) -> None:
    found, _ = scan(planted, workers=1)
    where = planted["where"]
    assert isinstance(where, dict)
    flagged = {k for k, v in found.items() if v.flagged}
    assert flagged == set(where)
    for item_id, docs in where.items():
        overlap = found[item_id]
        assert set(overlap.doc_ids) == docs, item_id
        assert overlap.overlap_ratio == 1.0 and overlap.token_contamination == 1.0
        assert overlap.category == "dirty"
        # the 17-word solution ends with the answer: of its 13-grams (starting at words
        # 0..4) only the last one contains it
        assert overlap.answer_anchored_ngrams == 1


def test_paraphrased_and_word_mapped_copies_are_invisible_to_ngrams(
    planted: dict[str, object],
) -> None:
    found, _ = scan(planted, workers=1)
    for index in range(8, 14):
        overlap = found[f"q{index}"]
        assert overlap.matched_ngrams == 0 and overlap.token_contamination == 0.0
        assert overlap.category == "clean"


def test_parallel_and_sharded_scan_agree_with_serial(planted: dict[str, object]) -> None:
    serial, serial_result = scan(planted, workers=1)
    parallel, parallel_result = scan(
        planted, workers=2, shard_bytes=1500, read=ReadOptions(chunk_bytes=700)
    )
    assert parallel == serial
    assert serial_result.documents == parallel_result.documents
    assert serial_result.bytes_read == parallel_result.bytes_read


def test_frequent_ngram_filter(tmp_path: Path) -> None:
    rng = random.Random(3)
    sample = make_item(rng, 0)
    body = f"{sample.metadata['fields']['question']} {sample.metadata['fields']['answer']}"
    with open(tmp_path / "c.jsonl", "w") as f:
        for k in range(5):
            f.write(json.dumps({"id": f"d{k}", "text": f"{filler(rng, 10)} {body}"}) + "\n")
    items = benchmark_grams([sample], 13, 10)
    kept = scan_corpus(items, [str(tmp_path)], ScanConfig(max_ngram_count=5, workers=1))
    assert kept.items[0].matched_ngrams == items[0].ngram_hashes.size
    assert kept.items[0].doc_ids == tuple(f"d{k}" for k in range(5))
    dropped = scan_corpus(items, [str(tmp_path)], ScanConfig(max_ngram_count=4, workers=1))
    overlap = dropped.items[0]
    assert overlap.matched_ngrams == 0 and overlap.doc_ids == ()
    assert overlap.frequent_ngrams == items[0].ngram_hashes.size
    assert overlap.token_contamination == 1.0  # the Llama-2 measure has no frequency filter


def test_token_contamination_hand_computed(tmp_path: Path) -> None:
    # item: 20 words w0..w19, one segment, answer "w19"; n = 13, span = 10
    words = [f"w{i}" for i in range(20)]
    sample = Sample("x", " ".join(words), "w19")
    items = [item_grams(item_text(sample), 13, 10)]
    docs = {
        # words 0..11 (12 words): span windows at 0,1,2 cover words 0..11 -> 12/20 = 60 %
        "a": " ".join(words[:12]),
        # words 5..19 (15 words) in another doc: windows 5..10 cover 5..19; 13-grams at 5, 6
        # and 7 match; only the one at 7 (words 7..19) contains the answer w19
        "b": "zz " + " ".join(words[5:]) + " zz",
    }
    (tmp_path / "c.jsonl").write_text(
        "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items())
    )
    result = scan_corpus(items, [str(tmp_path)], ScanConfig(workers=1)).items[0]
    # segments: the prompt and the target text "w19" (a second segment of 1 word), so
    # 21 words; covered: 0..19 (union of 0..11 and 5..19) = 20 of 21
    assert result.n_words == 21
    assert result.token_contamination == pytest.approx(20 / 21)
    assert result.n_ngrams == 8 and result.matched_ngrams == 3
    assert result.overlap_ratio == pytest.approx(3 / 8)
    assert result.answer_anchored_ngrams == 1
    assert result.doc_ids == ("b",)
    only_a = tmp_path / "only_a"
    only_a.mkdir()
    (only_a / "c.jsonl").write_text(json.dumps({"id": "a", "text": docs["a"]}) + "\n")
    result = scan_corpus(items, [str(only_a)], ScanConfig(workers=1)).items[0]
    assert result.token_contamination == pytest.approx(12 / 21)  # between 20 % and 80 %
    assert result.category == "between" and not result.flagged


def test_cli_writes_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(11)
    rows = [{"question": " ".join(rng.choice(ITEM_WORDS) for _ in range(25)) + "?",
             "answer": " ".join(rng.choice(ITEM_WORDS) for _ in range(14)) + f"\n#### {100 + i}"}
            for i in range(4)]
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    corpus = tmp_path / "corpus.jsonl"
    planted = f"{rows[2]['question']} {rows[2]['answer']}"
    corpus.write_text(json.dumps({"id": "hit", "text": planted}) + "\n"
                      + json.dumps({"id": "miss", "text": filler(rng, 50)}) + "\n")
    out = tmp_path / "run"
    code = main(["contamination", "scan", "--corpus", str(corpus), "--task", "gsm8k",
                 "--task-option", f"data={data}", "--out", str(out), "--workers", "1"])
    assert code == 0
    frame = pd.read_parquet(out / "items.parquet")
    assert frame["id"].tolist() == ["0", "1", "2", "3"]
    hit = frame.set_index("id").loc["2"]
    # the 15-word answer ends with "102": of its 3 windows only the last holds it
    assert list(hit["doc_ids"]) == ["hit"] and hit["answer_anchored_ngrams"] == 1
    assert frame.set_index("id").drop("2")["matched_ngrams"].eq(0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["flagged_ngram"] == 1 and summary["counts"]["dirty"] == 1
    assert json.loads((out / "manifest.json").read_text())["kind"] == "contamination_scan"
    assert "flagged by 13-grams: 1" in capsys.readouterr().out


def test_ray_missing_is_a_clear_error(planted: dict[str, object]) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        items = benchmark_grams(planted["samples"], 13, 10)  # type: ignore[arg-type]
        with pytest.raises(LmauditError, match=r"pip install 'ray\[data\]'"):
            scan_corpus(items, [str(planted["root"])], ray_address="auto")
    else:
        pytest.skip("ray is installed: the error path cannot be reached")


def test_real_gsm8k_questions_planted_in_generated_corpus(tmp_path: Path) -> None:
    path = EXTERNAL / "gsm8k" / "test.jsonl"
    if not path.exists():
        pytest.skip(f"real GSM8K test file not found at {path}")
    rows = [json.loads(line) for line in path.read_text().splitlines()[:200]]
    samples = [Sample(str(i), r["question"], r["answer"], metadata={"fields": r})
               for i, r in enumerate(rows)]
    rng = random.Random(5)
    picks = [17, 64, 150]
    with open(tmp_path / "c.jsonl", "w") as f:
        for k in range(60):
            text = filler(rng, 100)
            if k in (5, 25, 45):
                text += " " + rows[picks[k // 20]]["question"]  # question only
            f.write(json.dumps({"id": f"d{k}", "text": text}) + "\n")
    result = scan_corpus(benchmark_grams(samples, 13, 10), [str(tmp_path)], ScanConfig(workers=1))
    flagged = {o.id: o.doc_ids for o in result.items if o.flagged}
    assert flagged == {"17": ("d5",), "64": ("d25",), "150": ("d45",)}
    for overlap in result.items:
        if overlap.flagged:  # question only: no window contains the answer number
            assert overlap.answer_anchored_ngrams == 0


@pytest.mark.slow
def test_ray_data_scan_equals_the_local_scan(planted: dict[str, object]) -> None:
    """`--ray local`: the same per-item overlaps as the process-pool scan."""
    pytest.importorskip("ray.data", reason="ray[data] is not installed")
    items = benchmark_grams(planted["samples"], 13, 10)  # type: ignore[arg-type]
    local = scan_corpus(items, [str(planted["root"])], ScanConfig(workers=1))
    on_ray = scan_corpus(items, [str(planted["root"])], ScanConfig(workers=1), ray_address="local")
    assert on_ray.bytes_read == local.bytes_read and on_ray.documents == local.documents
    assert [(o.matched_ngrams, sorted(o.doc_ids)) for o in on_ray.items] == [
        (o.matched_ngrams, sorted(o.doc_ids)) for o in local.items
    ]
    assert any(o.flagged for o in local.items)
