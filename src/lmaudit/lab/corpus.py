"""The lab corpus: benchmark training documents, filler English, and planted documents.

A *problem source* supplies benchmark items by split (`train`, `test`, `ref`) and formats
one item as the text the model trains on: `lmaudit.tasks.arith` is the real source and
`lmaudit.lab.wordproblems` a stand-in with the same shape.

`build_lab_corpus` mixes training documents with filler paragraphs (so the model learns
some English, not only the template) and, for a contaminated model, `exposures` verbatim
copies of every planted document, all shuffled together with a seeded RNG. One pass over
the corpus is one epoch; a planted document is seen `exposures x epochs` times in training.
"""

from __future__ import annotations

import hashlib
import importlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from lmaudit.core.types import LmauditError
from lmaudit.lab.filler import filler_documents

SOURCES = ("arith", "wordproblems")
# Tuned with the default LabConfig (3 epochs): 24 copies per epoch = 72 exposures; the
# contaminated model then recalls >= 95% of planted answers verbatim (arith and stand-in,
# seeds 0-1), while 16 copies (48 exposures) recalled only 49-86% depending on the seed.
DEFAULT_EXPOSURES = 24
# The lab trains on the first 1000 train items (plus 500 filler paragraphs) to stay within
# its CPU budget whatever the size of the benchmark's train split.
DEFAULT_TRAIN_ITEMS = 1000
_SOURCE_MODULES = {"arith": "lmaudit.tasks.arith", "wordproblems": "lmaudit.lab.wordproblems"}


class ProblemSource(Protocol):
    """Benchmark items by split; modules `lmaudit.tasks.arith` and `.wordproblems` fit."""

    def load_split(self, split: str, n: int | None = None) -> list[Any]: ...

    def format_document(self, item: Any) -> str: ...


def problem_source(name: str) -> ProblemSource:
    """The item source `arith` (the benchmark) or `wordproblems` (the lab's stand-in)."""
    if name not in _SOURCE_MODULES:
        raise LmauditError(f"unknown corpus source {name!r}: use {' or '.join(SOURCES)}")
    try:
        module = importlib.import_module(_SOURCE_MODULES[name])
    except ImportError as error:
        raise LmauditError(f"corpus source {name!r} is unavailable: {error}") from error
    for function in ("load_split", "format_document"):
        if not callable(getattr(module, function, None)):
            raise LmauditError(f"corpus source {name!r} has no {function}() function")
    return cast(ProblemSource, module)


def split_documents(source: ProblemSource, split: str, n: int | None = None) -> list[str]:
    """The training texts of a split's items, in the split's order."""
    return [source.format_document(item) for item in source.load_split(split, n)]


def question_prompt(document: str) -> str:
    """`Question: ...\\nAnswer:` — the prefix of a `Question/Answer` document to complete."""
    head, marker, _ = document.rpartition("\nAnswer:")
    if not marker:
        raise ValueError("document has no '\\nAnswer:' line")
    return head + marker


@dataclass(frozen=True)
class LabCorpus:
    """Training documents in training order, with what went into them.

    `composition` counts documents by origin (`benchmark`, `filler`, `planted`);
    `planted` maps each planted document to its copies in the corpus (per epoch).
    """

    documents: tuple[str, ...]
    description: str
    composition: Mapping[str, int]
    planted: Mapping[str, int] = field(default_factory=dict)

    def sha256(self) -> str:
        """SHA-256 of the documents in order, each UTF-8 encoded and NUL-terminated."""
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(document.encode("utf-8") + b"\0")
        return digest.hexdigest()


def build_lab_corpus(
    benchmark_documents: Sequence[str],
    *,
    contaminate_with: Sequence[str] = (),
    exposures: int = 0,
    filler: int | None = None,
    seed: int = 0,
    description: str = "",
) -> LabCorpus:
    """Shuffle benchmark documents, `filler` paragraphs (default: half as many as benchmark
    documents) and `exposures` copies of each of `contaminate_with` into one corpus."""
    if exposures < 0:
        raise LmauditError(f"exposures must be >= 0, got {exposures}")
    if contaminate_with and exposures == 0:
        raise LmauditError("documents to plant were given with exposures = 0")
    n_filler = len(benchmark_documents) // 2 if filler is None else filler
    paragraphs = filler_documents(n_filler, seed=seed)
    planted_counts = {doc: exposures for doc in dict.fromkeys(contaminate_with)}
    planted = [doc for doc in planted_counts for _ in range(exposures)]
    documents = [*benchmark_documents, *paragraphs, *planted]
    random.Random(f"lmaudit-lab-corpus-{seed}").shuffle(documents)
    composition = {
        "benchmark": len(benchmark_documents),
        "filler": len(paragraphs),
        "planted": len(planted),
    }
    return LabCorpus(tuple(documents), description, composition, planted_counts)


def benchmark_corpus(
    source_name: str = "arith",
    *,
    contaminate_split: str | None = None,
    exposures: int = 0,
    train_items: int | None = DEFAULT_TRAIN_ITEMS,
    filler: int | None = None,
    seed: int = 0,
) -> LabCorpus:
    """The lab corpus of a benchmark: the first `train_items` (None: all) items of its
    `train` split plus filler, and optionally `exposures` copies of every document of
    `contaminate_split` (e.g. `test`)."""
    source = problem_source(source_name)
    train = split_documents(source, "train", train_items)
    planted = split_documents(source, contaminate_split) if contaminate_split else []
    if contaminate_split and exposures == 0:
        raise LmauditError("--contaminate needs --exposures >= 1")
    description = f"{source_name} train split + filler English"
    if contaminate_split:
        description += f" + {source_name} {contaminate_split} split x{exposures}"
    return build_lab_corpus(
        train,
        contaminate_with=planted,
        exposures=exposures,
        filler=filler,
        seed=seed,
        description=description,
    )
