"""Tables, JSON files and the plot of a validation lab run.

Files written to the output directory:

- `operating_characteristics.json`: `{detector: {form: {exposure: {auroc, ci_low, ci_high,
  tpr_at_1pct_fpr, tpr_at_5pct_fpr, n_members, n_nonmembers}}}}` measured on the
  contaminated model (exposure keys are strings, JSON objects need them). Written only when
  the validity gate passed: curves from a lab that measured nothing must not be reused.
- `verdict_characteristics.json`: one entry per detector in the shape that
  `lmaudit.contamination.verdicts.load_operating_characteristics` reads, for the verbatim
  form at the highest exposure (or the first form measured), with its condition spelled out.
- `validation.json`: configuration, gate (canary AUROCs, clean-twin intervals, failures),
  the clean-twin grid, timings and training records.
- `planted.json`: what was planted where (`plant.LabCorpora.manifest`); `manifest.json`:
  versions and git hash; `item_scores.parquet`: every detector score of every text on
  both models; `auroc_vs_exposure.png`: AUROC against exposure per detector and form.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmaudit.contamination.validation.lab import GATE_NOTE, Grid, ValidationResult
from lmaudit.contamination.validation.roc import OperatingCharacteristics

CHARACTERISTICS = "operating_characteristics.json"
VERDICT_CHARACTERISTICS = "verdict_characteristics.json"
VALIDATION = "validation.json"
PLANTED = "planted.json"
ITEM_SCORES = "item_scores.parquet"
PLOT = "auroc_vs_exposure.png"
TPR_NOTE = (
    "TPR at x% FPR: threshold = the smallest non-member score with at most x% of "
    "non-members strictly above it; members strictly above it count as detected."
)


def grid_to_json(grid: Grid) -> dict[str, dict[str, dict[str, dict[str, float | int]]]]:
    return {
        detector: {
            form: {str(exposure): oc.to_dict() for exposure, oc in cells.items()}
            for form, cells in forms.items()
        }
        for detector, forms in grid.items()
    }


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def verdict_payload(result: ValidationResult) -> dict[str, Any]:
    """Per detector, the verbatim (else first) form at the highest exposure, with a
    `condition` string, in the shape `verdicts.parse_operating_characteristics` reads."""
    spec = result.config.plant
    form = "verbatim" if "verbatim" in spec.forms else spec.forms[0]
    exposure = max(spec.exposures)
    detectors: dict[str, Any] = {}
    for detector in result.detectors:
        oc = result.grid[detector][form][exposure]
        detectors[detector] = {
            **oc.to_dict(),
            "condition": (
                f"validation lab ({result.config.name}, seed {spec.seed}): {form} copies seen "
                f"{exposure} times, {oc.n_members} members vs {oc.n_nonmembers} non-members"
            ),
        }
    return {"detectors": detectors}


def validation_payload(result: ValidationResult) -> dict[str, Any]:
    gate = result.gate
    return {
        "config": result.config.to_dict(),
        "detectors": list(result.detectors),
        "gate": {
            "passed": gate.passed,
            "failures": list(gate.failures),
            "note": GATE_NOTE,
            "canary_auroc": dict(gate.canary),
            "clean_twin_pooled": {
                d: {"auroc": i.point, "ci_low": i.low, "ci_high": i.high, "level": i.level}
                for d, i in gate.clean.items()
            },
        },
        "contaminated": grid_to_json(result.grid),
        "clean_twin": grid_to_json(result.clean_grid),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "training": {k: dict(v) for k, v in result.training.items()},
        "conventions": {
            "auroc": "Mann-Whitney P(member > non-member), ties 1/2; stratified percentile "
                     "bootstrap interval (95%)",
            "tpr": TPR_NOTE,
            "exposure": "times a planted text occurs in the single training pass",
        },
    }


def item_scores_frame(result: ValidationResult) -> Any:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for k, item in enumerate(result.corpora.eval_items):
        row: dict[str, Any] = {
            "id": item.id, "kind": item.kind, "member": item.member, "form": item.form,
            "exposure": item.exposure, "family": item.family, "text": item.text,
        }
        for target, scores in result.scores.items():
            for detector, values in scores.items():
                row[f"{target}.{detector}"] = float(values[k])
        rows.append(row)
    return pd.DataFrame(rows)


def write_outputs(result: ValidationResult, out_dir: Path) -> dict[str, Path]:
    """Write every file of the module docstring; returns {name: path}."""
    from lmaudit.core.store import base_manifest

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if result.gate.passed:
        paths["characteristics"] = out / CHARACTERISTICS
        _write_json(paths["characteristics"], grid_to_json(result.grid))
        paths["verdict"] = out / VERDICT_CHARACTERISTICS
        _write_json(paths["verdict"], verdict_payload(result))
    else:
        for stale in (CHARACTERISTICS, VERDICT_CHARACTERISTICS):
            (out / stale).unlink(missing_ok=True)
    paths["validation"] = out / VALIDATION
    _write_json(paths["validation"], validation_payload(result))
    paths["planted"] = out / PLANTED
    _write_json(paths["planted"], result.corpora.manifest())
    paths["manifest"] = out / "manifest.json"
    _write_json(paths["manifest"], base_manifest(
        command="contamination validate", config=result.config.to_dict()
    ))
    paths["item_scores"] = out / ITEM_SCORES
    item_scores_frame(result).to_parquet(paths["item_scores"], index=False)
    paths["plot"] = plot_auroc(result, out / PLOT)
    return paths


def plot_auroc(result: ValidationResult, path: Path) -> Path:
    """AUROC (with its interval) against exposure: one panel per form, one line per
    detector, on the contaminated model; chance (0.5) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    forms = result.config.plant.forms
    exposures = sorted(result.config.plant.exposures)
    figure, axes = plt.subplots(
        1, len(forms), figsize=(4.2 * len(forms) + 1.6, 4.0), sharey=True, squeeze=False
    )
    n = len(result.detectors)
    for axis, form in zip(axes[0], forms, strict=True):
        for k, detector in enumerate(result.detectors):
            cells = [result.grid[detector][form][e] for e in exposures]
            points = [c.auroc for c in cells]
            lower = [c.auroc - c.ci_low for c in cells]
            upper = [c.ci_high - c.auroc for c in cells]
            shift = 2.0 ** (0.05 * (k - (n - 1) / 2))  # spread the error bars apart
            axis.errorbar([e * shift for e in exposures], points, yerr=[lower, upper],
                          marker="o", markersize=4, capsize=2, label=detector, alpha=0.85)
        axis.axhline(0.5, color="grey", linestyle="--", linewidth=1)
        axis.set_xscale("log", base=2)
        axis.set_xticks(exposures, [str(e) for e in exposures])
        axis.set_ylim(0.0, 1.05)
        axis.set_title(form)
        axis.set_xlabel("exposures (copies seen in training)")
    axes[0][0].set_ylabel("AUROC (members vs non-members)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center right", fontsize=8)
    seed = result.config.plant.seed
    figure.suptitle(f"lmaudit detector validation lab ({result.config.name}, seed {seed}): "
                    "AUROC with 95% bootstrap intervals")
    figure.tight_layout(rect=(0.0, 0.0, 0.9, 1.0))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# --- text tables -----------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def _grid_tables(grid: Grid, detectors: tuple[str, ...], forms: tuple[str, ...],
                 exposures: list[int], cell: Any) -> list[str]:
    blocks = []
    for form in forms:
        rows = [[d, *(cell(grid[d][form][e]) for e in exposures)] for d in detectors]
        blocks.append(f"form: {form}\n" + _table(["detector", *map(str, exposures)], rows))
    return blocks


def _auroc_cell(oc: OperatingCharacteristics) -> str:
    return f"{oc.auroc:.2f} [{oc.ci_low:.2f},{oc.ci_high:.2f}]"


def _tpr_cell(oc: OperatingCharacteristics) -> str:
    return f"{oc.tpr_at_1pct_fpr:.2f}/{oc.tpr_at_5pct_fpr:.2f}"


def gate_text(result: ValidationResult) -> str:
    gate = result.gate
    head = "Validity gate: PASSED" if gate.passed else (
        "Validity gate: FAILED - the lab measured nothing; do not use these figures"
    )
    canary = ", ".join(f"{d} {v:.2f}" for d, v in gate.canary.items())
    level = next(iter(gate.clean.values())).level if gate.clean else 0.95
    clean = ", ".join(f"{d} {i.point:.2f} [{i.low:.2f},{i.high:.2f}]"
                      for d, i in gate.clean.items())
    lines = [head, f"  canaries, planted vs fresh (contaminated model): {canary}",
             f"  clean twin, all members vs non-members ({level:.1%} interval): {clean}"]
    lines += [f"  FAILED: {failure}" for failure in gate.failures]
    return "\n".join(lines)


def summary_text(result: ValidationResult, paths: Mapping[str, Path] | None = None) -> str:
    """The printed report: gate, AUROC and TPR tables per form, timings, files."""
    spec = result.config.plant
    exposures = sorted(spec.exposures)
    any_cell = result.grid[result.detectors[0]][spec.forms[0]][exposures[0]]
    parts = [
        f"lmaudit detector validation lab: config {result.config.name}, seed {spec.seed}, "
        f"{len(result.corpora.eval_items)} texts scored, detectors: "
        f"{', '.join(result.detectors)}",
        gate_text(result),
        f"AUROC [95% bootstrap interval] on the contaminated model, by exposure "
        f"({any_cell.n_members} members per cell vs {any_cell.n_nonmembers} non-members):",
        *_grid_tables(result.grid, result.detectors, spec.forms, exposures, _auroc_cell),
        "TPR at 1% / 5% FPR on the contaminated model, by exposure:",
        *_grid_tables(result.grid, result.detectors, spec.forms, exposures, _tpr_cell),
        TPR_NOTE + (
            f" With {any_cell.n_nonmembers} non-members the 1% point allows no false "
            "positive." if any_cell.n_nonmembers < 100 else ""
        ),
        "n-gram overlap sees verbatim and question-only copies, never paraphrased or "
        "word-mapped ones; exposure = times a planted text was seen in training.",
        "timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()),
    ]
    if paths:
        parts.append("written: " + ", ".join(str(p) for p in paths.values()))
    return "\n\n".join(parts)
