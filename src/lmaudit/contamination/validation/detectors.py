"""Per-item detector scores for the validation lab (higher = more likely seen).

- Likelihood detectors (`lmaudit.contamination.membership`): every text is scored through
  the HF backend as `LoglikelihoodRequest("<|endoftext|>", text)`, the layout of lab
  training (`lmaudit.lab.train`), giving token log-probs (nats) and the next-token mean and
  variance of log p per token (for Min-K%++, k = 0.2).
- `ngram`: `overlap_ratio` of the corpus n-gram scan (`lmaudit.contamination.scan`).
- `semantic`: the highest embedding cosine of the item with a corpus chunk
  (`lmaudit.contamination.semantic`), when sentence-transformers and a local model exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.contamination.validation.plant import EvalItem

LIKELIHOOD_DETECTORS = ("loss", "zlib", "min_k", "min_k_plus_plus", "reference_ratio")
DETECTORS = ("ngram", *LIKELIHOOD_DETECTORS, "semantic")
MIN_K = 0.2


@dataclass(frozen=True)
class TokenScores:
    """Per token of one text: log p (nats), and mean / variance of log p under the model's
    next-token distribution at that position."""

    logprobs: tuple[float, ...]
    means: tuple[float, ...]
    variances: tuple[float, ...]


def score_texts(model_dir: Path, texts: Sequence[str], batch_size: int = 32) -> list[TokenScores]:
    """Token log-probs (nats) and next-token mean/variance of every text, scored as
    `<|endoftext|> text` (the layout of lab training), through the HF backend on CPU."""
    from lmaudit.backends.hf import HFBackend
    from lmaudit.core.types import LoglikelihoodRequest
    from lmaudit.lab.tokenizer import END_OF_TEXT

    backend = HFBackend(str(model_dir), device="cpu", dtype="float32", batch_size=batch_size)
    requests = [LoglikelihoodRequest(END_OF_TEXT, text) for text in texts]
    return [
        TokenScores(tuple(result.token_logprobs), tuple(stats.means), tuple(stats.variances))
        for result, stats in backend.loglikelihood_with_stats(requests)
    ]


def likelihood_detector_scores(
    texts: Sequence[str], target: Sequence[TokenScores], reference: Sequence[TokenScores]
) -> dict[str, np.ndarray]:
    """The five likelihood scores of every text (membership API, higher = member)."""
    from lmaudit.contamination.membership import (
        loss_score,
        min_k_plus_plus_score,
        min_k_score,
        reference_ratio_score,
        zlib_score,
    )

    columns: dict[str, list[float]] = {name: [] for name in LIKELIHOOD_DETECTORS}
    for text, scored, ref in zip(texts, target, reference, strict=True):
        columns["loss"].append(loss_score(scored.logprobs))
        columns["zlib"].append(zlib_score(text, scored.logprobs))
        columns["min_k"].append(min_k_score(scored.logprobs, k=MIN_K))
        columns["min_k_plus_plus"].append(
            min_k_plus_plus_score(scored.logprobs, scored.means, scored.variances, k=MIN_K)
        )
        columns["reference_ratio"].append(reference_ratio_score(scored.logprobs, ref.logprobs))
    return {name: np.asarray(values) for name, values in columns.items()}


def _item_text(item: EvalItem) -> Any:
    from lmaudit.contamination.items import ItemText

    if item.kind == "item":
        return ItemText(item.id, (item.question, item.answer), item.answer)
    return ItemText(item.id, (item.text,), None)


def write_corpus(path: Path, documents: Sequence[str]) -> Path:
    """Distinct documents as jsonl (`{"id": "d<k>", "text": ...}`), in first-seen order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for k, doc in enumerate(dict.fromkeys(documents)):
            out.write(json.dumps({"id": f"d{k}", "text": doc}, ensure_ascii=False) + "\n")
    return path


def ngram_scores(items: Sequence[EvalItem], corpus_files: Sequence[Path]) -> np.ndarray:
    """`overlap_ratio` of the n-gram scan (13-grams, GPT-3 normalization, one process):
    the share of an item's 13-grams (question and answer as separate segments) found in
    the corpus; 0 for an item with no 13-gram."""
    from lmaudit.contamination.items import item_grams
    from lmaudit.contamination.scan import ScanConfig, scan_corpus

    config = ScanConfig(workers=1)
    grams = [item_grams(_item_text(item), config.n, config.span) for item in items]
    result = scan_corpus(grams, [str(p) for p in corpus_files], config)
    return np.asarray([overlap.overlap_ratio for overlap in result.items])


def semantic_available() -> bool:
    """True when the semantic scan can run offline (sentence-transformers and a model)."""
    try:
        import sentence_transformers  # noqa: F401

        from lmaudit.contamination.semantic import default_model_dir
    except ImportError:
        return False
    return default_model_dir() is not None


def semantic_scores(
    items: Sequence[EvalItem], corpus_groups: Sequence[Sequence[Path]], embedder: Any = None
) -> list[np.ndarray]:
    """Highest cosine of each item with any chunk of each corpus group (one embedding
    model, loaded once). An item without any chunk scores -1."""
    from lmaudit.contamination.semantic import SemanticConfig, SentenceEmbedder, semantic_scan

    embedder = embedder or SentenceEmbedder()
    texts = [_item_text(item) for item in items]
    out = []
    for files in corpus_groups:
        result = semantic_scan(texts, [str(p) for p in files], embedder, SemanticConfig(top_k=1))
        values = np.asarray([result.max_cosine(k) for k in range(len(items))])
        out.append(np.where(np.isnan(values), -1.0, values))
    return out
