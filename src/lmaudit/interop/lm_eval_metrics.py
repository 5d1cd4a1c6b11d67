"""An lm-eval task's `metric_list`: which metrics a run reports, under lm-eval's names.

lm-eval names and the lmaudit per-sample column each one is:
- multiple_choice: `acc` (acc), `acc_norm` (acc_norm_chars: log-likelihood over the
  choice's length in characters), `acc_bytes` (lmaudit's acc_norm: over UTF-8 bytes),
  `brier_score` (brier);
- generate_until: `exact_match` (one column per filter pipeline: `exact_match,<filter>`);
- loglikelihood: `acc`, `perplexity`;
- loglikelihood_rolling: `word_perplexity`, `byte_perplexity`, `bits_per_byte`.

Without `metric_list` a task reports lm-eval's defaults for its output type (multiple
choice: acc and acc_norm, plus lmaudit's confidence, p_correct and brier, and so ECE);
with one, exactly the metrics it lists. An entry's `aggregation` must be lm-eval's
default for that metric (lmaudit computes no other), `higher_is_better` is kept; options
of `exact_match` are read by `lm_eval_filters.exact_match_from`. Any other metric is one
error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lmaudit.core.task import MetricSpec, Task, WrappedTask
from lmaudit.core.types import LmauditError, Response, Sample, SampleRecord

COLUMNS: dict[str, dict[str, str]] = {
    "multiple_choice": {"acc": "acc", "acc_norm": "acc_norm_chars", "acc_bytes": "acc_norm",
                        "brier_score": "brier"},
    "generate_until": {"exact_match": "exact_match"},
    "loglikelihood": {"acc": "acc", "perplexity": "perplexity"},
    "loglikelihood_rolling": {"word_perplexity": "word_perplexity",
                              "byte_perplexity": "byte_perplexity",
                              "bits_per_byte": "bits_per_byte"},
}
DEFAULTS = {"multiple_choice": ("acc", "acc_norm"), "generate_until": ("exact_match",),
            "loglikelihood": ("perplexity", "acc"),
            "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte")}
AGGREGATIONS = {"perplexity": "perplexity", "word_perplexity": "weighted_perplexity",
                "byte_perplexity": "weighted_perplexity", "bits_per_byte": "bits_per_byte",
                "brier_score": "brier_score"}
MC_EXTRAS = ("confidence", "p_correct", "brier")  # lmaudit's own, kept without metric_list


def _entries(metric_list: Any, output_type: str, file: Path) -> list[Mapping[str, Any]]:
    if metric_list is None:
        return [{"metric": name} for name in DEFAULTS[output_type]]
    if not isinstance(metric_list, list) or not all(
            isinstance(e, Mapping) and "metric" in e for e in metric_list):
        raise LmauditError(f"{file}: metric_list must be a list of {{metric: NAME, ...}}")
    known = COLUMNS[output_type]
    for entry in metric_list:
        name = str(entry["metric"])
        if name not in known:
            raise LmauditError(f"{file}: metric {name!r} is not supported for {output_type} "
                               f"(supported: {', '.join(known)})")
        aggregation = entry.get("aggregation", AGGREGATIONS.get(name, "mean"))
        if aggregation != AGGREGATIONS.get(name, "mean"):
            raise LmauditError(f"{file}: metric {name}: aggregation {aggregation!r} is not "
                               f"supported (lmaudit computes lm-eval's default, "
                               f"{AGGREGATIONS.get(name, 'mean')!r})")
    return list(metric_list)


def select_metrics(base: Sequence[MetricSpec], output_type: str, metric_list: Any,
                   file: Path) -> tuple[tuple[MetricSpec, ...], dict[str, str]]:
    """(the reported metrics under lm-eval's names, per-sample column -> stored name)."""
    entries = _entries(metric_list, output_type, file)
    by_name = {spec.name: spec for spec in base}
    reported: list[MetricSpec] = []
    rename: dict[str, str] = {}
    for entry in entries:
        name = str(entry["metric"])
        column = COLUMNS[output_type][name]
        matching = [s for s in base if s.name == column or s.name.startswith(column + ",")]
        for spec in matching:
            stored = name + spec.name[len(column):]
            higher = bool(entry.get("higher_is_better", spec.higher_is_better))
            reported.append(replace(spec, name=stored, higher_is_better=higher))
            if spec.numerator and spec.denominator:
                rename.update({spec.numerator: spec.numerator,
                               spec.denominator: spec.denominator})
            else:
                rename[spec.name] = stored
    if metric_list is None and output_type == "multiple_choice":
        reported += [by_name[m] for m in MC_EXTRAS if m in by_name]
        rename.update({m: m for m in MC_EXTRAS})
    if output_type == "loglikelihood":
        rename["loglikelihood"] = "loglikelihood"  # the per-sample value diff compares
    return tuple(reported), rename


class LmEvalMetrics(WrappedTask):
    """A task reporting only its lm-eval metrics, per-sample columns renamed to match
    (attributes such as `scorer` are the base task's)."""

    def __init__(self, base: Task, reported: Sequence[MetricSpec],
                 rename: Mapping[str, str]) -> None:
        super().__init__(base)
        self.reported = tuple(reported)
        self.rename = dict(rename)

    def __getattr__(self, name: str) -> Any:
        if name in ("base", "reported", "rename"):
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return self.reported

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        record = self.base.score(sample, responses)
        metrics = {self.rename[k]: v for k, v in record.metrics.items() if k in self.rename}
        return replace(record, metrics=metrics)
