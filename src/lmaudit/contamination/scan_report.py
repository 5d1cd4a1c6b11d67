"""Write a scan's run directory and print its summary.

Run directory: `manifest.json` (environment, task, corpus, settings), `items.parquet`
(one row per item: id, n_words, n_ngrams, matched_ngrams, frequent_ngrams, overlap_ratio,
answer_anchored_ngrams, token_contamination_pct, category, doc_ids) and `summary.json`
(item counts per Llama-2 subset, flagged items, throughput, the n-gram visibility note).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmaudit.contamination.scan import INVISIBLE_NOTE, ScanConfig, ScanResult, subset_counts

ITEMS = "items.parquet"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"


def items_frame(result: ScanResult) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "id": [i.id for i in result.items],
            "n_words": [i.n_words for i in result.items],
            "n_ngrams": [i.n_ngrams for i in result.items],
            "matched_ngrams": [i.matched_ngrams for i in result.items],
            "frequent_ngrams": [i.frequent_ngrams for i in result.items],
            "overlap_ratio": [i.overlap_ratio for i in result.items],
            "answer_anchored_ngrams": [i.answer_anchored_ngrams for i in result.items],
            "token_contamination_pct": [100.0 * i.token_contamination for i in result.items],
            "category": [i.category for i in result.items],
            "doc_ids": [list(i.doc_ids) for i in result.items],
        }
    )


def summary(result: ScanResult, config: ScanConfig) -> dict[str, Any]:
    megabytes = result.bytes_read / 1e6
    return {
        "counts": subset_counts(result.items),
        "short_items": sum(i.n_ngrams == 0 for i in result.items),
        "corpus_bytes": result.bytes_read,
        "corpus_documents": result.documents,
        "seconds": round(result.seconds, 3),
        "mb_per_s": round(megabytes / result.seconds, 2) if result.seconds else None,
        "workers": result.workers,
        "settings": {
            "n": config.n,
            "span": config.span,
            "max_ngram_count": config.max_ngram_count,
            "subsets": "clean < 20%, not_clean >= 20%, not_dirty < 80%, dirty >= 80% "
            "of words in matched spans",
        },
        "note": INVISIBLE_NOTE,
    }


def write_scan_run(
    out: Path, result: ScanResult, config: ScanConfig, manifest_fields: dict[str, Any]
) -> dict[str, Any]:
    """Write the run directory; returns the summary."""
    from lmaudit.core.store import base_manifest

    out.mkdir(parents=True, exist_ok=True)
    manifest = base_manifest(kind="contamination_scan", **manifest_fields)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    items_frame(result).to_parquet(out / ITEMS, index=False)
    info = summary(result, config)
    (out / SUMMARY).write_text(json.dumps(info, indent=2) + "\n")
    return info


def summary_text(result: ScanResult, info: dict[str, Any], *, top: int = 10) -> str:
    """A readable summary: counts, then the most overlapping items."""
    counts = info["counts"]
    lines = [
        f"scanned {info['corpus_documents']} documents, {info['corpus_bytes'] / 1e6:.1f} MB "
        f"in {info['seconds']:.1f} s ({info['mb_per_s']} MB/s, {info['workers']} workers)",
        f"items: {counts['items']}  flagged by {info['settings']['n']}-grams: "
        f"{counts['flagged_ngram']}  answer-anchored: {counts['answer_anchored']}",
        f"token contamination (span {info['settings']['span']} words): clean {counts['clean']}"
        f"  not clean {counts['not_clean']}  not dirty {counts['not_dirty']}"
        f"  dirty {counts['dirty']}",
    ]
    ranked = sorted(result.items, key=lambda i: (-i.overlap_ratio, -i.token_contamination))
    shown = [i for i in ranked if i.flagged or i.token_contamination > 0][:top]
    if shown:
        lines.append(f"{'item':<24} {'matched':>8} {'ratio':>6} {'tok%':>6} {'anch':>5}  docs")
        for i in shown:
            docs = ", ".join(i.doc_ids[:3]) + (" ..." if len(i.doc_ids) > 3 else "")
            lines.append(
                f"{i.id[:24]:<24} {i.matched_ngrams:>8} {i.overlap_ratio:>6.2f} "
                f"{100 * i.token_contamination:>6.1f} {i.answer_anchored_ngrams:>5}  {docs}"
            )
    lines.append(f"note: {info['note']}")
    return "\n".join(lines)
