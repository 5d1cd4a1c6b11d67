"""Benchmark: lmaudit's corpus n-gram scan against lm-evaluation-harness's `Janitor`.

Generates a seeded jsonl corpus (default 1 GB, in 64 MB files under bench/out/ngram_scan/)
whose filler text uses GSM8K's own vocabulary, plants a few GSM8K test items verbatim
(question and worked answer), then

1. scans it with `lmaudit.contamination.scan` (13-grams of all GSM8K test items,
   `--workers` processes), and
2. scans the same files with the n-gram code of lm-eval 0.4.13's `Janitor`
   (`normalize_string` + `word_ngrams`, registered with `register_contaminant`; the pure
   Python mode, the one pip installs) in one process of the lm-eval venv
   (bench/.venvs/lm-eval, created when missing: torch==2.13.0 CPU first, then lm-eval),

checks that both find the same (item, document) pairs, which must be the planted ones, and
prints MB/s (document text bytes, UTF-8, JSON parsing included) and the ratio.
`--reference-mb` limits the reference to the first files (lmaudit is then compared on the
same files too). Usage: python bench/ngram_scan.py [--size-mb 1024] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GSM8K = ROOT / ".." / "shared" / "external" / "gsm8k" / "test.jsonl"
VENV = ROOT / "bench" / ".venvs" / "lm-eval"
FILE_MB = 64
N = 13

REFERENCE = r"""
import json, sys, time
from lm_eval.decontamination.janitor import Janitor, word_ngrams
items = json.loads(open(sys.argv[1]).read())
janitor = Janitor(ngram_n=13)
owners = {}
for item_id, segments in items:
    for segment in segments:
        janitor.register_contaminant(segment)
        for gram in word_ngrams(janitor.normalize_string(segment), 13):
            owners.setdefault(gram, set()).add(item_id)
dirt = janitor.dirt_ngrams
pairs, text_bytes = set(), 0
start, cpu_start = time.perf_counter(), time.process_time()
for path in sys.argv[3:]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = row["text"]
            text_bytes += len(text.encode("utf-8"))
            for gram in word_ngrams(janitor.normalize_string(text), 13):
                if gram in dirt:
                    for item_id in owners[gram]:
                        pairs.add((item_id, row["id"]))
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu_start
json.dump({"pairs": sorted(pairs), "bytes": text_bytes, "seconds": seconds, "cpu": cpu},
          open(sys.argv[2], "w"))
"""


def gsm8k_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        sys.exit(f"GSM8K test file not found: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def generate_corpus(
    out: Path, size_mb: int, rows: list[dict[str, str]], plants: int, seed: int
) -> tuple[list[Path], dict[str, str]]:
    """jsonl files of about `size_mb` MB; returns the files and {doc id: planted item id}."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / f"corpus-{size_mb}mb-seed{seed}-plants{plants}.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        return [out / f for f in info["files"]], info["planted"]
    rng = np.random.default_rng(seed)
    vocab = sorted({w for r in rows for w in (r["question"] + " " + r["answer"]).split()})
    weights = 1.0 / np.arange(1, len(vocab) + 1)  # Zipf-like word frequencies
    order = rng.permutation(len(vocab))
    probabilities = weights[order] / weights.sum()
    words = np.array(vocab, dtype=object)
    sentences = [
        " ".join(words[rng.choice(len(vocab), size=int(k), p=probabilities)]) + "."
        for k in rng.integers(6, 30, size=20_000)
    ]
    total = size_mb * 1_000_000
    mean_sentence = float(np.mean([len(t) + 1 for t in sentences]))
    docs_estimate = int(0.9 * total / (35 * mean_sentence))  # 10..60 sentences a document
    planted_at = rng.choice(docs_estimate, size=plants, replace=False)
    picks = rng.choice(len(rows), size=plants, replace=False)
    plan = {int(d): int(i) for d, i in zip(planted_at, picks, strict=True)}
    files: list[Path] = []
    planted: dict[str, str] = {}
    written, doc = 0, 0
    pyrng = random.Random(seed)
    while written < total:
        path = out / f"part-{len(files):04d}.jsonl"
        files.append(path)
        part_bytes = 0
        with open(path, "w", encoding="utf-8") as handle:
            buffer: list[str] = []
            while part_bytes < FILE_MB * 1_000_000 and written < total:
                text = " ".join(pyrng.choices(sentences, k=pyrng.randint(10, 60)))
                if doc in plan:
                    row = rows[plan[doc]]
                    cut = len(text) // 2
                    text = f"{text[:cut]} {row['question']}\n{row['answer']} {text[cut:]}"
                    planted[f"doc{doc}"] = str(plan[doc])
                line = json.dumps({"id": f"doc{doc}", "text": text}) + "\n"
                buffer.append(line)
                part_bytes += len(text)
                written += len(text)
                doc += 1
                if len(buffer) >= 2000:
                    handle.write("".join(buffer))
                    buffer.clear()
            handle.write("".join(buffer))
    marker.write_text(json.dumps({"files": [f.name for f in files], "planted": planted}))
    return files, planted


def ensure_reference_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import lm_eval.decontamination.janitor"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # pinned first: no CUDA surprise
    subprocess.run([*pip, "lm-eval==0.4.13"], check=True)
    return python


@dataclass(frozen=True)
class Measured:
    """(item id, document id) pairs found, text bytes, wall seconds, CPU seconds."""

    pairs: set[tuple[str, str]]
    nbytes: int
    seconds: float
    cpu_seconds: float

    def line(self, label: str) -> str:
        mb = self.nbytes / 1e6
        return (f"{label}: {mb:.0f} MB in {self.seconds:.1f} s = {mb / self.seconds:.1f} MB/s "
                f"wall, {mb / self.cpu_seconds:.1f} MB per CPU-second; "
                f"{len(self.pairs)} (item, doc) pairs")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_lmaudit(files: list[Path], workers: int) -> Measured:
    """Scan with lmaudit; CPU time counts this process and its (finished) workers."""
    from lmaudit.contamination.items import benchmark_grams
    from lmaudit.contamination.scan import ScanConfig, scan_corpus
    from lmaudit.tasks.registry import load_task

    samples = load_task("gsm8k", {"data": str(GSM8K)}).samples()
    items = benchmark_grams(samples, N, 10)
    cpu = _cpu_seconds()
    result = scan_corpus(items, [str(f) for f in files], ScanConfig(n=N, workers=workers))
    cpu = _cpu_seconds() - cpu
    pairs = {(o.id, d) for o in result.items for d in o.doc_ids}
    return Measured(pairs, result.bytes_read, result.seconds, cpu)


def run_reference(
    python: Path, files: list[Path], rows: list[dict[str, str]], out: Path
) -> Measured:
    items_path, result_path = out / "reference_items.json", out / "reference_result.json"
    items = [[str(i), [r["question"], r["answer"]]] for i, r in enumerate(rows)]
    items_path.write_text(json.dumps(items))
    command = [str(python), "-c", REFERENCE, str(items_path), str(result_path)]
    subprocess.run(command + [str(f) for f in files], check=True, stderr=subprocess.DEVNULL)
    result = json.loads(result_path.read_text())
    pairs = {(str(a), str(b)) for a, b in result["pairs"]}
    return Measured(pairs, result["bytes"], result["seconds"], result["cpu"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="corpus size (default 1024)")
    parser.add_argument("--workers", type=int, default=2, help="lmaudit processes (default 2)")
    parser.add_argument("--plants", type=int, default=20, help="planted GSM8K items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-mb", type=int, default=0,
                        help="run the reference on the first files only (0 = all)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ngram_scan")
    args = parser.parse_args()

    rows = gsm8k_rows(GSM8K)
    started = time.perf_counter()
    files, planted = generate_corpus(args.out, args.size_mb, rows, args.plants, args.seed)
    print(f"corpus: {len(files)} files, {len(planted)} planted items "
          f"(ready in {time.perf_counter() - started:.0f} s)")
    expected_all = {(item, doc) for doc, item in planted.items()}

    full = run_lmaudit(files, args.workers)
    print(full.line(f"lmaudit ({args.workers} workers)"))
    ok = full.pairs == expected_all
    print(f"lmaudit finds exactly the planted pairs: {ok}")
    if args.skip_reference:
        return 0 if ok else 1

    subset = files
    if args.reference_mb:
        subset = files[: max(1, -(-args.reference_mb // FILE_MB))]
        full = run_lmaudit(subset, args.workers)
        print(full.line(f"lmaudit ({args.workers} workers) on the reference's files"))
    single = run_lmaudit(subset, 1)
    print(single.line("lmaudit (1 worker) on the same files"))
    reference = run_reference(ensure_reference_venv(), subset, rows, args.out)
    print(reference.line("lm-eval Janitor (1 process)"))
    same = reference.pairs == full.pairs == single.pairs
    print(f"Janitor finds the same (item, doc) pairs as lmaudit: {same}")

    def speed(m: Measured) -> float:
        return m.nbytes / m.seconds

    def cpu_speed(m: Measured) -> float:
        return m.nbytes / m.cpu_seconds

    print(f"speed-up, wall: {speed(full) / speed(reference):.1f}x ({args.workers} workers), "
          f"{speed(single) / speed(reference):.1f}x (1 worker); per CPU-second: "
          f"{cpu_speed(single) / cpu_speed(reference):.1f}x")
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
