"""Per-item token log-probabilities through any backend, stored as a run directory.

Every item is scored as `LoglikelihoodRequest(context="", continuation=text)`. The HF
backend conditions an empty context on the prefix token (BOS, else EOS) and encodes the
text without special tokens (`backends/hf_tokens.encode_pair`), so a lab model scores
`<|endoftext|> text`: exactly the layout it trained on (`lab/train.py`). Only the text's own
tokens are scored (not a trailing end-of-text). For backends with `loglikelihood_with_stats`
(HF) the next-token mean and variance of log p per position come too (Min-K%++).

A reference model (optional) scores the same texts the same way; the reference ratio uses
its summed log-prob.

Run directory: `manifest.json` (environment, models, task, settings), `samples.parquet` (one
row per item: item_id, split, text, token_logprobs, means, variances, sum_nll, n_tokens,
and reference_token_logprobs / reference_sum_nll with a reference model), `results.json`
(the analysis), `report.json` and `report.md` (the contamination report, `report.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.backend import Backend, ProgressCallback, check_capabilities
from lmaudit.core.store import MANIFEST, RESULTS, SAMPLES, _write_json
from lmaudit.core.types import LmauditError, LoglikelihoodRequest, RequestKind, Sample

SPLITS = ("test", "ref", "train")


@dataclass(frozen=True)
class ItemText:
    """One item to score: `split` is `test`, `ref` or `train`."""

    item_id: str
    split: str
    text: str


@dataclass(frozen=True)
class ItemLikelihood:
    """Token log-probs (nats) of one item; `means`/`variances` are empty when the backend
    gave no next-token statistics, `reference_logprobs` None without a reference model."""

    item_id: str
    split: str
    text: str
    token_logprobs: tuple[float, ...]
    means: tuple[float, ...] = ()
    variances: tuple[float, ...] = ()
    reference_logprobs: tuple[float, ...] | None = None

    @property
    def sum_nll(self) -> float:
        """Summed negative log-likelihood of the item's tokens (nats)."""
        return -float(sum(self.token_logprobs))

    @property
    def n_tokens(self) -> int:
        return len(self.token_logprobs)


def check_items(items: Sequence[ItemText]) -> None:
    """Known splits, no empty text, no (split, id) twice; LmauditError names the item."""
    seen: set[tuple[str, str]] = set()
    for item in items:
        if item.split not in SPLITS:
            raise LmauditError(f"item {item.item_id!r}: unknown split {item.split!r}")
        if not item.text.strip():
            raise LmauditError(f"item {item.item_id!r} of split {item.split} has an empty text")
        key = (item.split, item.item_id)
        if key in seen:
            raise LmauditError(f"item id {item.item_id!r} appears twice in split {item.split}")
        seen.add(key)


def _score(
    backend: Backend,
    items: Sequence[ItemText],
    *,
    with_stats: bool,
    progress: ProgressCallback | None,
) -> list[tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]]:
    check_capabilities(backend, [RequestKind.LOGLIKELIHOOD], task="contamination test")
    requests = [LoglikelihoodRequest("", item.text) for item in items]
    scorer = getattr(backend, "loglikelihood_with_stats", None)
    scored: list[tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = []
    if with_stats and callable(scorer):
        for result, stats in scorer(requests, progress):
            scored.append((tuple(result.token_logprobs), tuple(stats.means),
                           tuple(stats.variances)))
    else:
        for plain in backend.loglikelihood(requests, progress):
            scored.append((tuple(plain.token_logprobs), (), ()))
    for item, (logprobs, _, _) in zip(items, scored, strict=True):
        if not logprobs:
            raise LmauditError(
                f"model {backend.fingerprint.key()} returned no per-token log-probs for item "
                f"{item.item_id!r} ({item.split}); likelihood tests need them"
            )
    return scored


def collect_likelihoods(
    backend: Backend,
    items: Sequence[ItemText],
    *,
    reference_backend: Backend | None = None,
    with_stats: bool = True,
    progress: ProgressCallback | None = None,
) -> list[ItemLikelihood]:
    """Score every item with `backend` (and `reference_backend` when given), in order."""
    check_items(items)
    scored = _score(backend, items, with_stats=with_stats, progress=progress)
    reference: list[tuple[float, ...] | None] = [None] * len(items)
    if reference_backend is not None:
        ref_scored = _score(reference_backend, items, with_stats=False, progress=progress)
        reference = [logprobs for logprobs, _, _ in ref_scored]
    return [
        ItemLikelihood(item.item_id, item.split, item.text, logprobs, means, variances, ref)
        for item, (logprobs, means, variances), ref in zip(items, scored, reference, strict=True)
    ]


def likelihood_rows(likelihoods: Sequence[ItemLikelihood]) -> list[dict[str, Any]]:
    """One `samples.parquet` row per item."""
    rows = []
    for item in likelihoods:
        row: dict[str, Any] = {
            "item_id": item.item_id,
            "split": item.split,
            "text": item.text,
            "token_logprobs": list(item.token_logprobs),
            "means": list(item.means),
            "variances": list(item.variances),
            "sum_nll": item.sum_nll,
            "n_tokens": item.n_tokens,
        }
        if item.reference_logprobs is not None:
            row["reference_token_logprobs"] = list(item.reference_logprobs)
            row["reference_sum_nll"] = -float(sum(item.reference_logprobs))
        rows.append(row)
    return rows


def write_likelihood_run(
    run_dir: Path,
    likelihoods: Sequence[ItemLikelihood],
    manifest: Mapping[str, Any],
    results: Mapping[str, Any],
) -> Path:
    """Write manifest.json, samples.parquet and results.json; refuses a finished run dir."""
    import pandas as pd

    root = Path(run_dir)
    if (root / RESULTS).exists():
        raise LmauditError(f"{root} already holds a finished run; choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / MANIFEST, dict(manifest))
    pd.DataFrame(likelihood_rows(likelihoods)).to_parquet(root / SAMPLES, index=False)
    _write_json(root / RESULTS, dict(results))
    return root


def load_likelihoods(run_dir: Path) -> list[ItemLikelihood]:
    """The items of a run directory written by `write_likelihood_run`."""
    import pandas as pd

    path = Path(run_dir) / SAMPLES
    if not path.is_file():
        raise LmauditError(f"{run_dir} holds no {SAMPLES}")
    frame = pd.read_parquet(path)
    has_reference = "reference_token_logprobs" in frame.columns

    def floats(value: Any) -> tuple[float, ...]:
        return tuple(float(v) for v in value) if value is not None else ()

    out = []
    for row in frame.to_dict("records"):
        reference = row.get("reference_token_logprobs") if has_reference else None
        out.append(ItemLikelihood(
            str(row["item_id"]), str(row["split"]), str(row["text"]),
            floats(row["token_logprobs"]), floats(row["means"]), floats(row["variances"]),
            floats(reference) if reference is not None else None,
        ))
    return out


# -- item texts ----------------------------------------------------------------------------

ARITH_TASKS = ("arith", "arith_mc")


def solved_text(sample: Sample) -> str:
    """The item as a solved document: input, then the target (the correct option's text for
    multiple choice), joined by one space unless either side already has whitespace there."""
    if isinstance(sample.target, int) and sample.choices is not None:
        if not 0 <= sample.target < len(sample.choices):
            raise LmauditError(f"sample {sample.id!r}: target index {sample.target} out of range")
        answer = sample.choices[sample.target]
    else:
        answer = str(sample.target)
    if not sample.input or sample.input[-1].isspace() or not answer or answer[0].isspace():
        return sample.input + answer
    return f"{sample.input} {answer}"


def arith_items(split: str, n: int | None = None, *, label: str | None = None) -> list[ItemText]:
    """The first `n` items of an arith split as lab training documents
    (`Question: ...\\nAnswer: <n>`, `lab.corpus`), labelled `label` (default: the split)."""
    from lmaudit.lab.corpus import problem_source

    source = problem_source("arith")
    return [
        ItemText(str(item.id), label or split, source.format_document(item))
        for item in source.load_split(split, n)
    ]


def task_items(
    task: str, options: Mapping[str, str] | None = None, *, limit: int | None = None
) -> list[ItemText]:
    """Test items of a registered task as solved documents (`solved_text`)."""
    from lmaudit.tasks.registry import load_task

    samples = load_task(task, dict(options or {})).samples()
    return [ItemText(s.id, "test", solved_text(s)) for s in samples[:limit]]


def file_items(
    path: str | Path,
    split: str,
    *,
    text_field: str = "text",
    id_field: str = "id",
    limit: int | None = None,
) -> list[ItemText]:
    """Items of a local data file (jsonl, json, csv or parquet) with a `text_field` string
    per row; ids from `id_field` when present, else `<split>-<row>` (rows count from 1)."""
    from lmaudit.data.loading import load_rows, require_field

    file = Path(path)
    if not file.is_file():
        raise LmauditError(f"{split} file {file} does not exist")
    rows = load_rows(str(file))
    if not rows:
        raise LmauditError(f"{split} file {file} holds no rows")
    items = []
    for number, row in enumerate(rows[:limit], start=1):
        text = require_field(row, text_field, source=str(file), row_index=number)
        if not isinstance(text, str) or not text.strip():
            raise LmauditError(f"{file}: row {number}: field {text_field!r} must be a non-empty "
                               "string")
        item_id = str(row.get(id_field, f"{split}-{number}"))
        items.append(ItemText(item_id, split, text))
    return items
