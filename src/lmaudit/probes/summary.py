"""Text summaries of probe analyses, and the demo's probe step (clean vs contaminated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_VARIANTS = ("symbolic", "noop")
DEMO_SETS = 10


def _pct(estimate: dict[str, Any]) -> str:
    value, low, high = estimate.get("value"), estimate.get("ci_low"), estimate.get("ci_high")
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{100 * value:5.1f}"
    return f"{100 * value:5.1f} [{100 * low:5.1f}, {100 * high:5.1f}]"


def format_probe_table(result: dict[str, Any], *, title: str = "") -> str:
    """A plain-text table of `ProbeAnalysis.to_dict()`: accuracy (%, 95% CI) per family,
    drop in points with its clustered CI, McNemar p, sets mean ± sd [min, max],
    consistency; then the verdict line."""
    lines = [f"== {title}" if title else "== probe"]
    lines.append(f"original accuracy        {_pct(result['original_accuracy'])}  "
                 f"(n = {result['n_items']} items)")
    header = (f"{'family':<12} {'accuracy % [95% CI]':<22} {'drop (points) [95% CI]':<25} "
              f"{'McNemar p':>9}  {'sets: mean ± sd [min, max]':<28} consistent")
    lines.append(header)
    for name, fam in result["families"].items():
        d = fam["drop"]
        drop = (f"{100 * d['value']:+5.1f} [{100 * d['ci_low']:+5.1f}, {100 * d['ci_high']:+5.1f}]"
                if d.get("ci_low") is not None else f"{100 * d['value']:+5.1f}")
        sets = fam["instance_sets"]
        if sets["n_sets"] >= 2 and sets["sd"] is not None:
            spread = (f"{100 * sets['mean']:.1f} ± {100 * sets['sd']:.1f} "
                      f"[{100 * sets['min']:.1f}, {100 * sets['max']:.1f}] ×{sets['n_sets']}")
        else:
            spread = "(one set)"
        flag = " *" if fam.get("meaning_may_change") else ""
        lines.append(
            f"{name + flag:<12} {_pct(fam['variant_accuracy']):<22} {drop:<25} "
            f"{fam['mcnemar']['p_value']:>9.2g}  {spread:<28} {100 * fam['consistency']:5.1f}%"
        )
    if any(f.get("meaning_may_change") for f in result["families"].values()):
        lines.append("* reordering may change a problem's meaning")
    lines.append(f"consistency (correct in original and every variant): "
                 f"{100 * result['consistency_all_variants']:.1f}%")
    lines.append(f"verdict: {result['verdict']}")
    return "\n".join(lines)


def probe_summary_for_demo(
    clean_spec: str,
    dirty_spec: str,
    out_dir: Path,
    *,
    n_sets: int = DEMO_SETS,
    limit: int | None = None,
    device: str = "cpu",
) -> str:
    """Probe both demo models on `arith` (symbolic with `n_sets` instance sets, and the
    template no-op clause); runs go to `out_dir/probe-arith-<model>` (reused when
    finished). Returns the printable summary: one table and verdict per model, and where
    each instance-set plot is."""
    import json

    from lmaudit.backends.registry import load_backend
    from lmaudit.probes.runner import INSTANCE_SETS_PLOT, PROBE_RESULTS, run_probe
    from lmaudit.tasks.registry import load_task

    blocks = []
    for spec in (clean_spec, dirty_spec):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)
        run_dir = Path(out_dir) / f"probe-arith-{safe}"
        results = run_dir / PROBE_RESULTS
        if not (run_dir / "results.json").exists():
            run_probe(
                load_task("arith", {}), load_backend(spec, {"device": device}), run_dir,
                variants=DEMO_VARIANTS, n_sets=n_sets, limit=limit, model_spec=spec,
                show_progress=False,
            )
        payload = json.loads(results.read_text())
        block = format_probe_table(payload, title=f"probe · arith · {spec}")
        plot = run_dir / INSTANCE_SETS_PLOT
        if plot.exists():
            block += f"\nplot: {plot}"
        blocks.append(block)
    return "\n\n".join(blocks)
