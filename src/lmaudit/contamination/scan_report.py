"""Write a scan's run directory and print its summary.

Run directory: `manifest.json` (environment, task, corpus, settings), `items.parquet`
(one row per item: id, n_words, n_ngrams, matched_ngrams, frequent_ngrams, overlap_ratio,
answer_anchored_ngrams, token_contamination_pct, category, doc_ids; with the semantic
check also semantic_max_cosine, semantic_candidates, semantic_match, visible_to_ngrams)
and `summary.json` (item counts per Llama-2 subset, flagged items, throughput, which
checks ran and what each cannot see). With the semantic check, `semantic.parquet` holds
each item's nearest corpus chunks: item_id, rank, cosine, doc_id, chunk_text,
above_threshold, verdict, judge_answer (the last two only where an LLM judge ran).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lmaudit.contamination.scan import INVISIBLE_NOTE, ScanConfig, ScanResult, subset_counts
from lmaudit.contamination.semantic import DEFAULT_MODEL_NAME, SemanticResult

ITEMS = "items.parquet"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"
SEMANTIC = "semantic.parquet"

NGRAM_CANNOT_SEE = (
    "n-gram checks (n-gram overlap, token contamination) see only verbatim copies after "
    "normalization: they cannot see paraphrased, translated or word-mapped leaks"
)
SEMANTIC_NOT_RUN = (
    "the semantic check did not run (add --semantic): paraphrased and translated leaks "
    "were not looked for"
)
WORD_MAPPING_NOTE = (
    "no check here sees a copy whose words were replaced by invented words (a word mapping)"
)


def visibility_notes(semantic: SemanticResult | None) -> list[str]:
    """Plain statements of what the checks that ran can and cannot see."""
    notes = [NGRAM_CANNOT_SEE]
    if semantic is None:
        return [*notes, SEMANTIC_NOT_RUN, WORD_MAPPING_NOTE]
    notes.append(
        f"the semantic check ({semantic.model}, cosine >= {semantic.config.threshold}) sees "
        "paraphrases in the language its embedding model reads"
    )
    if DEFAULT_MODEL_NAME.lower() in semantic.model.lower():  # also a path or hub id
        notes.append(
            f"{DEFAULT_MODEL_NAME} is an English-only embedding model: it cannot reliably "
            "see translations into other languages, so translated leaks are not visible "
            "to any check that ran"
        )
    else:
        notes.append(
            f"an English-only embedding model (such as {DEFAULT_MODEL_NAME}) cannot "
            f"reliably see translations; whether {semantic.model} can was not measured here"
        )
    notes.append(WORD_MAPPING_NOTE)
    if semantic.judge is not None:
        notes.append(
            f"LLM judge {semantic.judge} confirmed candidates: a semantic match needs a "
            "copy, paraphrase or translation verdict"
        )
    return notes


def checks_run(config: ScanConfig, semantic: SemanticResult | None) -> list[str]:
    checks = [f"{config.n}-gram overlap", f"token contamination (span {config.span})"]
    if semantic is not None:
        checks.append(f"semantic nearest neighbours ({semantic.model})")
        if semantic.judge is not None:
            checks.append(f"LLM judge ({semantic.judge})")
    return checks


def items_frame(result: ScanResult, semantic: SemanticResult | None = None) -> Any:
    import pandas as pd

    frame = pd.DataFrame(
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
    if semantic is not None:
        if list(semantic.item_ids) != frame["id"].tolist():
            raise ValueError("semantic and n-gram results list different items")
        indices = range(len(semantic.item_ids))
        frame["semantic_max_cosine"] = [semantic.max_cosine(k) for k in indices]
        frame["semantic_candidates"] = [len(semantic.candidates(k)) for k in indices]
        frame["semantic_match"] = [semantic.is_match(k) for k in indices]
        frame["visible_to_ngrams"] = [i.flagged for i in result.items]
    return frame


def semantic_frame(semantic: SemanticResult) -> Any:
    import pandas as pd

    rows = [m for found in semantic.matches for m in found]
    return pd.DataFrame(
        {
            "item_id": pd.Series([m.item_id for m in rows], dtype=str),
            "rank": pd.Series([m.rank for m in rows], dtype="int64"),
            "cosine": pd.Series([m.cosine for m in rows], dtype="float64"),
            "doc_id": pd.Series([m.doc_id for m in rows], dtype=str),
            "chunk_text": pd.Series([m.chunk_text for m in rows], dtype=str),
            "above_threshold": pd.Series(
                [m.cosine >= semantic.config.threshold for m in rows], dtype=bool
            ),
            "verdict": pd.Series([m.verdict for m in rows], dtype=object),
            "judge_answer": pd.Series([m.judge_answer for m in rows], dtype=object),
        }
    )


def semantic_summary(result: ScanResult, semantic: SemanticResult) -> dict[str, Any]:
    indices = range(len(semantic.item_ids))
    matched = [semantic.is_match(k) for k in indices]
    flagged = [i.flagged for i in result.items]
    verdicts: dict[str, int] = {}
    for found in semantic.matches:
        for m in found:
            if m.verdict is not None:
                verdicts[m.verdict] = verdicts.get(m.verdict, 0) + 1
    rate = semantic.chunks_per_s
    return {
        "model": semantic.model,
        "judge": semantic.judge,
        "counts": {
            "with_candidates": sum(bool(semantic.candidates(k)) for k in indices),
            "semantic_match": sum(matched),
            "semantic_only": sum(m and not f for m, f in zip(matched, flagged, strict=True)),
            "ngram_only": sum(f and not m for m, f in zip(matched, flagged, strict=True)),
            "both": sum(m and f for m, f in zip(matched, flagged, strict=True)),
        },
        "judge_verdicts": verdicts,
        "corpus_chunks": semantic.chunks,
        "corpus_documents": semantic.documents,
        "seconds": round(semantic.seconds, 3),
        "embed_seconds": round(semantic.embed_seconds, 3),
        "chunks_per_s": None if math.isnan(rate) else round(rate, 1),
        "settings": {
            "threshold": semantic.config.threshold,
            "top_k": semantic.config.top_k,
            "chunk_words": semantic.config.chunk_words,
            "stride_words": semantic.config.stride,
            "batch_size": semantic.config.batch_size,
        },
    }


def summary(
    result: ScanResult, config: ScanConfig, semantic: SemanticResult | None = None
) -> dict[str, Any]:
    megabytes = result.bytes_read / 1e6
    info: dict[str, Any] = {
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
        "checks": checks_run(config, semantic),
        "visibility": visibility_notes(semantic),
    }
    if semantic is not None:
        info["semantic"] = semantic_summary(result, semantic)
    return info


def write_scan_run(
    out: Path, result: ScanResult, config: ScanConfig, manifest_fields: dict[str, Any],
    semantic: SemanticResult | None = None,
) -> dict[str, Any]:
    """Write the run directory; returns the summary."""
    from lmaudit.core.store import base_manifest

    out.mkdir(parents=True, exist_ok=True)
    manifest = base_manifest(kind="contamination_scan", **manifest_fields)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    items_frame(result, semantic).to_parquet(out / ITEMS, index=False)
    if semantic is not None:
        semantic_frame(semantic).to_parquet(out / SEMANTIC, index=False)
    info = summary(result, config, semantic)
    (out / SUMMARY).write_text(json.dumps(info, indent=2) + "\n")
    return info


def summary_text(
    result: ScanResult, info: dict[str, Any], *, top: int = 10,
    semantic: SemanticResult | None = None,
) -> str:
    """A readable summary: counts, the most overlapping items, the semantic check's
    nearest items, which checks ran and what they cannot see."""
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
    if semantic is not None:
        lines.extend(semantic_lines(result, semantic, info["semantic"], top=top))
    lines.append("checks run: " + "; ".join(info["checks"]))
    lines.extend(f"note: {note}" for note in info["visibility"])
    return "\n".join(lines)


def semantic_lines(
    result: ScanResult, semantic: SemanticResult, info: dict[str, Any], *, top: int
) -> list[str]:
    counts, settings = info["counts"], info["settings"]
    lines = [
        f"semantic ({semantic.model}; {settings['chunk_words']}-word chunks every "
        f"{settings['stride_words']}; cosine >= {settings['threshold']}): "
        f"{counts['with_candidates']} items with candidates, {counts['semantic_match']} "
        f"matched, {counts['semantic_only']} of them not visible to n-grams "
        f"({info['corpus_chunks']} chunks in {info['seconds']:.1f} s, "
        f"{info['chunks_per_s']} chunks/s)",
    ]
    ranked = sorted(range(len(semantic.item_ids)), key=lambda k: -semantic.max_cosine(k))
    shown = [k for k in ranked if semantic.candidates(k)][:top]
    if shown:
        lines.append(f"{'item':<24} {'cosine':>6} {'match':>5} {'ngram':>5}  nearest doc"
                     + ("  verdict" if semantic.judge else ""))
        for k in shown:
            best = semantic.matches[k][0]
            verdict = f"  {best.verdict}" if semantic.judge else ""
            lines.append(
                f"{semantic.item_ids[k][:24]:<24} {best.cosine:>6.3f} "
                f"{'yes' if semantic.is_match(k) else 'no':>5} "
                f"{'yes' if result.items[k].flagged else 'no':>5}  {best.doc_id}{verdict}"
            )
    return lines
