"""The contamination report: one table per benchmark and model, with verdicts.

`build_report` turns per-item likelihoods (`likelihood_run`) and an optional exchangeability
result into signals (`verdicts`): the Skywork gaps Δ1/Δ2 with bootstrap intervals and
permutation p-values, and for every membership score the AUROC of test items against ref
items with its interval and Mann–Whitney p. `report_text` / `report_markdown` render it;
the footer states the verdict thresholds and what the checks cannot see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmaudit.contamination.exchangeability import ExchangeabilityResult
from lmaudit.contamination.likelihood_run import ItemLikelihood, ItemText
from lmaudit.contamination.loss_gaps import LossGap, SplitLosses, skywork_gaps
from lmaudit.contamination.membership import (
    SCORE_NAMES,
    MembershipScores,
    ScoreComparison,
    compare_scores,
    score_item,
)
from lmaudit.contamination.verdicts import (
    LIMITATIONS,
    THRESHOLDS_NOTE,
    OperatingCharacteristics,
    Signal,
    comparison_signal,
    exchangeability_signal,
    gap_signal,
    missing_signal,
    overall_verdict,
)
from lmaudit.core.store import RESULTS, _write_json
from lmaudit.core.types import LmauditError

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


@dataclass(frozen=True)
class ContaminationReport:
    """Signals and verdicts of one benchmark × model. `operating` maps signal keys to the
    validation lab's measured detector quality (empty when no file was given)."""

    benchmark: str
    model: str
    reference_model: str | None
    n_items: Mapping[str, int]
    k: float
    signals: tuple[Signal, ...]
    overall: str
    operating: Mapping[str, OperatingCharacteristics] = field(default_factory=dict)
    exchangeability: ExchangeabilityResult | None = None

    def signal(self, key: str) -> Signal:
        for s in self.signals:
            if s.key == key:
                return s
        raise KeyError(key)


def split_losses(likelihoods: Sequence[ItemLikelihood], split: str) -> SplitLosses | None:
    """Per-item (sum NLL, tokens) of one split, None when the split has no items."""
    items = [i for i in likelihoods if i.split == split]
    if not items:
        return None
    return SplitLosses.of([i.sum_nll for i in items], [i.n_tokens for i in items])


def membership_scores(
    likelihoods: Sequence[ItemLikelihood], k: float = 0.2
) -> list[MembershipScores]:
    """Every membership score of every item, in order."""
    return [
        score_item(
            i.item_id, i.text, i.token_logprobs, means=i.means or None,
            variances=i.variances or None, reference_logprobs=i.reference_logprobs, k=k,
        )
        for i in likelihoods
    ]


def analyse(
    likelihoods: Sequence[ItemLikelihood],
    *,
    k: float = 0.2,
    n_boot: int = 2000,
    n_permutations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[dict[str, LossGap], dict[str, ScoreComparison]]:
    """Skywork gaps and test-vs-ref score comparisons (only those the data allows)."""
    test = split_losses(likelihoods, "test")
    if test is None:
        raise ValueError("no test items to analyse")
    gaps = skywork_gaps(
        test, split_losses(likelihoods, "ref"), split_losses(likelihoods, "train"),
        n_boot=n_boot, n_permutations=n_permutations, seed=seed, confidence=confidence,
    )
    scores = membership_scores(likelihoods, k)
    comparisons: dict[str, ScoreComparison] = {}
    splits = [i.split for i in likelihoods]
    for name in SCORE_NAMES:
        test_values = [s.get(name) for s, sp in zip(scores, splits, strict=True) if sp == "test"]
        ref_values = [s.get(name) for s, sp in zip(scores, splits, strict=True) if sp == "ref"]
        if not ref_values or any(v is None for v in [*test_values, *ref_values]):
            continue
        comparisons[name] = compare_scores(
            [float(v) for v in test_values if v is not None],
            [float(v) for v in ref_values if v is not None],
            name=name, n_boot=n_boot, seed=seed, confidence=confidence,
        )
    return gaps, comparisons


def build_report(
    likelihoods: Sequence[ItemLikelihood],
    *,
    benchmark: str,
    model: str,
    reference_model: str | None = None,
    k: float = 0.2,
    exchangeability: ExchangeabilityResult | None = None,
    operating: Mapping[str, OperatingCharacteristics] | None = None,
    n_boot: int = 2000,
    n_permutations: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ContaminationReport:
    gaps, comparisons = analyse(
        likelihoods, k=k, n_boot=n_boot, n_permutations=n_permutations, seed=seed,
        confidence=confidence,
    )
    signals: list[Signal] = []
    for key, missing in (("delta1", "no reference split"), ("delta2", "no train split")):
        signals.append(gap_signal(gaps[key]) if key in gaps else missing_signal(key, missing))
    reasons = {
        "min_k_plus_plus": "the backend gives no next-token statistics",
        "reference_ratio": "no reference model",
    }
    for name in SCORE_NAMES:
        if name in comparisons:
            signals.append(comparison_signal(comparisons[name]))
        else:
            has_ref = any(i.split == "ref" for i in likelihoods)
            signals.append(missing_signal(
                name, reasons.get(name, "") if has_ref else "no reference split"))
    signals.append(exchangeability_signal(exchangeability))
    counts = {s: sum(i.split == s for i in likelihoods) for s in ("test", "ref", "train")}
    return ContaminationReport(
        benchmark, model, reference_model, {s: n for s, n in counts.items() if n},
        k, tuple(signals), overall_verdict(signals), dict(operating or {}), exchangeability,
    )


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}" if value < 0 else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def _rows(report: ContaminationReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in report.signals:
        interval = "—" if s.ci_low is None else f"[{_num(s.ci_low)}, {_num(s.ci_high)}]"
        lab = report.operating.get(s.key)
        rows.append((s.label, _num(s.estimate), interval, _p(s.p_value), s.verdict,
                     lab.describe() if lab else ""))
    return rows


_HEADER = ("signal", "estimate", "95% interval", "p (1-sided)", "verdict")


def _title(report: ContaminationReport) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in report.n_items.items())
    ref = f", reference model {report.reference_model}" if report.reference_model else ""
    return (f"contamination · {report.benchmark} · {report.model}{ref} "
            f"({counts} items, k = {report.k})")


def report_text(report: ContaminationReport) -> str:
    """A plain-text table, the overall verdict, notes per signal, and the footer."""
    with_lab = bool(report.operating)
    header = (*_HEADER, "validated (lab)") if with_lab else _HEADER
    rows = [r if with_lab else r[:-1] for r in _rows(report)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"== {_title(report)}"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    lines.append(f"overall: {report.overall}")
    lines.append("notes:")
    lines += [f"  {s.key}: {s.detail}" for s in report.signals if s.detail]
    lines += [THRESHOLDS_NOTE, LIMITATIONS]
    return "\n".join(lines)


def report_markdown(report: ContaminationReport) -> str:
    with_lab = bool(report.operating)
    header = (*_HEADER, "validated (lab)") if with_lab else _HEADER
    lines = [f"# {_title(report)}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in _rows(report):
        cells = row if with_lab else row[:-1]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", f"**Overall: {report.overall}**", "", "## Notes", ""]
    lines += [f"- `{s.key}`: {s.detail}" for s in report.signals if s.detail]
    lines += ["", "---", "", THRESHOLDS_NOTE, "", LIMITATIONS, ""]
    return "\n".join(lines)


def report_dict(report: ContaminationReport) -> dict[str, Any]:
    """JSON-ready: settings, signals, overall verdict, exchangeability shards, notes."""
    exchange = None
    if report.exchangeability is not None:
        exchange = dataclasses.asdict(report.exchangeability)
    return {
        "benchmark": report.benchmark,
        "model": report.model,
        "reference_model": report.reference_model,
        "n_items": dict(report.n_items),
        "k": report.k,
        "overall": report.overall,
        "signals": [dataclasses.asdict(s) for s in report.signals],
        "operating_characteristics": {
            k: dataclasses.asdict(v) for k, v in report.operating.items()
        },
        "exchangeability": exchange,
        "thresholds": THRESHOLDS_NOTE,
        "limitations": LIMITATIONS,
    }


def write_report(run_dir: Path, report: ContaminationReport) -> tuple[Path, Path]:
    """Write `report.json` and `report.md` into the run directory."""
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / REPORT_JSON, report_dict(report))
    (root / REPORT_MD).write_text(report_markdown(report), encoding="utf-8")
    return root / REPORT_JSON, root / REPORT_MD


# -- the whole test, and the demo's step ---------------------------------------------------


@dataclass(frozen=True)
class LikelihoodTestSettings:
    """Settings of `run_likelihood_test` (recorded in the manifest). `exchangeability`:
    `auto` (run unless inapplicable), `off`, or `force` (run and report reasons anyway)."""

    k: float = 0.2
    n_shards: int = 10
    n_permutations: int = 30
    separator: str = "\n\n"
    training_shuffled: bool = False
    exchangeability: str = "auto"
    n_boot: int = 2000
    gap_permutations: int = 10_000
    seed: int = 0


def run_likelihood_test(
    backend: Any,
    items: Sequence[ItemText],
    *,
    benchmark: str,
    model: str,
    settings: LikelihoodTestSettings = LikelihoodTestSettings(),
    reference_backend: Any = None,
    reference_model: str | None = None,
    operating: Mapping[str, OperatingCharacteristics] | None = None,
    out_dir: Path | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
) -> ContaminationReport:
    """Score the items, run the exchangeability test on the test items (canonical order),
    build the report; with `out_dir`, store the run (likelihoods, results, report)."""
    from lmaudit.contamination.exchangeability import exchangeability_test
    from lmaudit.contamination.likelihood_run import collect_likelihoods, write_likelihood_run
    from lmaudit.core.store import base_manifest

    if not 0.0 < settings.k <= 1.0:
        raise LmauditError(f"--k must be in (0, 1], got {settings.k}")
    if out_dir is not None and (Path(out_dir) / RESULTS).exists():
        raise LmauditError(f"{out_dir} already holds a finished run; choose another --out")
    likelihoods = collect_likelihoods(backend, items, reference_backend=reference_backend)
    exchange = None
    if settings.exchangeability != "off":
        exchange = exchangeability_test(
            backend, [i.text for i in items if i.split == "test"],
            n_shards=settings.n_shards, n_permutations=settings.n_permutations,
            separator=settings.separator, seed=settings.seed,
            training_shuffled=settings.training_shuffled,
            force=settings.exchangeability == "force",
        )
    report = build_report(
        likelihoods, benchmark=benchmark, model=model, reference_model=reference_model,
        k=settings.k, exchangeability=exchange, operating=operating, n_boot=settings.n_boot,
        n_permutations=settings.gap_permutations, seed=settings.seed,
    )
    if out_dir is not None:
        manifest = base_manifest(
            kind="contamination-test", benchmark=benchmark, model=model,
            fingerprint=dataclasses.asdict(backend.fingerprint),
            reference_model=reference_model,
            reference_fingerprint=(None if reference_backend is None
                                   else dataclasses.asdict(reference_backend.fingerprint)),
            settings=dataclasses.asdict(settings),
            n_items=dict(report.n_items), layout="LoglikelihoodRequest(context='', text)",
            **dict(manifest_extra or {}),
        )
        write_likelihood_run(Path(out_dir), likelihoods, manifest, report_dict(report))
        write_report(Path(out_dir), report)
    return report


@dataclass(frozen=True)
class DemoLikelihoodSummary:
    """Printable lines and the two reports (`clean`, `contaminated`)."""

    text: str
    reports: Mapping[str, ContaminationReport]


def _cell(signal: Signal) -> str:
    if signal.estimate is None or signal.ci_low is None:
        return "n/a"
    interval = f"[{_num(signal.ci_low)}, {_num(signal.ci_high)}]"
    return f"{_num(signal.estimate)} {interval} p={_p(signal.p_value)}"


def likelihood_summary_for_demo(
    clean_backend: Any,
    contaminated_backend: Any,
    n_items: int | None = None,
    *,
    names: tuple[str, str] = ("lab:demo-clean", "lab:demo-contaminated"),
    out_dir: Path | None = None,
    seed: int = 0,
    operating: Mapping[str, OperatingCharacteristics] | None = None,
) -> DemoLikelihoodSummary:
    """Likelihood tests of both demo models on arith: the first `n_items` (all when None)
    test and ref items and as many train items, in the lab layout. Runs go to
    `out_dir/contamination-<model>` when given. The exchangeability test is reported as not
    applicable: lab training shuffles documents every epoch."""
    from lmaudit.contamination.likelihood_run import arith_items
    from lmaudit.lab.tokenizer import END_OF_TEXT

    test = arith_items("test", n_items)
    items = [*test, *arith_items("ref", n_items), *arith_items("train", len(test))]
    settings = LikelihoodTestSettings(separator=END_OF_TEXT, training_shuffled=True, seed=seed)
    reports: dict[str, ContaminationReport] = {}
    for role, backend, name in (("clean", clean_backend, names[0]),
                                ("contaminated", contaminated_backend, names[1])):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        target = None if out_dir is None else Path(out_dir) / f"contamination-{safe}"
        reports[role] = run_likelihood_test(
            backend, items, benchmark="arith", model=name, settings=settings,
            out_dir=target if target is None or not (target / RESULTS).exists() else None,
            operating=operating,
        )
    header = ("model", "Δ1 = L_test − L_ref [95% CI]", "Min-K% AUROC test vs ref [95% CI]",
              "overall")
    rows = [(r.model, _cell(r.signal("delta1")), _cell(r.signal("min_k")), r.overall)
            for r in reports.values()]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    first = next(iter(reports.values()))
    counts = ", ".join(f"{n} {s}" for s, n in first.n_items.items())
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(0, f"arith, lab layout ({counts} items; Δ1 in nats/token, p one-sided)")
    for key, label in (("delta1", "Δ1"), ("min_k", "Min-K%")):
        lab = (operating or {}).get(key)
        if lab is not None:
            lines.append(f"{label} as measured in the validation lab: {lab.describe()}")
    exchange = reports["contaminated"].signal("exchangeability")
    lines.append(f"exchangeability: {exchange.verdict}: {exchange.detail}")
    lines.append(LIMITATIONS)
    return DemoLikelihoodSummary("\n".join(lines), reports)
