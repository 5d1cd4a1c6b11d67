"""Benchmark: Bradley-Terry bootstrap on real Arena battles; style control on 1M battles.

Part A - the Chatbot Arena snapshot of 2024-08-14 (../shared/external/arena, 1,670,250
battles, 129 models): the Bradley-Terry MLE and a 1,000-round multinomial bootstrap,
  - lmaudit (`bootstrap_bradley_terry`: vectorised chord-Newton, worker processes),
  - FastChat's published method, written out below:
      * "pivot": per round, resample the battles with pandas, pivot them into win tables,
        fit with scipy (FastChat's notebook `compute_mle_elo` with scipy instead of
        scikit-learn);
      * "multinomial": FastChat's current `get_bootstrap_result_elo_mle_with_tie`:
        multinomial counts over unique (model_a, model_b, outcome) rows, one scipy
        L-BFGS-B fit per round (`fit_bt`: maxiter 100, gtol 1e-6) in a process pool;
  - evalica (installed into bench/.venvs/evalica from PyPI; skipped with a note if it
    cannot be installed): `evalica.bradley_terry` per round with the round's counts as
    weights (evalica has no bootstrap of its own).
Part B - style-controlled Bradley-Terry on 1,000,000 simulated battles with 5 style
features (known truth): lmaudit's Newton fit, sandwich intervals and bootstrap, against
FastChat's method (battles duplicated, dense design matrix, one L2-penalised logistic
regression per bootstrap round, here scipy L-BFGS on scikit-learn's objective).

Slow baselines are timed on a few rounds and extrapolated to 1,000 rounds over the same
number of cores (assuming perfect parallel scaling, which favours them); `--full` runs
FastChat's multinomial method and evalica for all rounds. Times are wall-clock seconds on
this machine; the load average is printed because other work on a shared machine inflates
them.

    .venv/bin/python bench/arena_ratings.py [--rounds 1000] [--workers 2] [--full]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

ROOT = Path(__file__).resolve().parents[1]
ARENA = ROOT / ".." / "shared" / "external" / "arena" / "chatbotarena_20240814.json"
OUT = ROOT / "bench" / "out" / "arena_ratings"
EVALICA_VENV = ROOT / "bench" / ".venvs" / "evalica"
EVALICA_VERSION = "0.4.2"
LN10 = math.log(10.0)

sys.path.insert(0, str(ROOT / "src"))

from lmaudit.arena.battles import read_battles  # noqa: E402
from lmaudit.arena.bootstrap import bootstrap_bradley_terry  # noqa: E402
from lmaudit.arena.bradley_terry import fit_bradley_terry  # noqa: E402
from lmaudit.arena.cells import PairCells, cells_from_battles  # noqa: E402
from lmaudit.arena.contextual import (  # noqa: E402
    bootstrap_contextual_bt,
    contextual_sandwich,
    fit_contextual_bt,
)
from lmaudit.arena.sampling import multinomial_counts  # noqa: E402
from lmaudit.arena.simulate import simulate_battles  # noqa: E402


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


# ---------------------------------------------------------------- FastChat, written out
def fastchat_loss_and_grad(
    ratings: np.ndarray, matchups: np.ndarray, outcomes: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """FastChat's `bt_loss_and_grad`: base-10 ratings, ties as outcome 1/2, np.add.at."""
    logits = LN10 * (ratings[matchups[:, 0]] - ratings[matchups[:, 1]])
    probs = expit(logits)
    loss = -((np.log(probs) * outcomes + np.log(1.0 - probs) * (1.0 - outcomes)) * weights).sum()
    grads = -LN10 * (outcomes - probs) * weights
    model_grad = np.zeros_like(ratings)
    np.add.at(model_grad, matchups, grads[:, None] * np.array([1.0, -1.0]))
    return float(loss), model_grad


def fastchat_fit_bt(
    matchups: np.ndarray, outcomes: np.ndarray, n_models: int, weights: np.ndarray
) -> np.ndarray:
    """FastChat's `fit_bt`: L-BFGS-B from zeros, maxiter 100, gtol 1e-6."""
    result = minimize(
        fastchat_loss_and_grad,
        np.zeros(n_models),
        args=(matchups, outcomes, weights),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": 1e-6},
    )
    return np.asarray(result.x)


def fastchat_unique_rows(cells: PairCells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FastChat's `preprocess_battles_to_arrays` on the snapshot's counts: unique
    (model_a, model_b, outcome) rows, outcome 1 / 0.5 / 0, weights = counts."""
    a = cells.pair_a[cells.cell_pair]
    b = cells.pair_b[cells.cell_pair]
    score = cells.cell_score
    keys = pd.DataFrame({"a": a, "b": b, "y": score, "w": cells.cell_count})
    grouped = keys.groupby(["a", "b", "y"], as_index=False)["w"].sum()
    matchups = grouped[["a", "b"]].to_numpy()
    return matchups, grouped["y"].to_numpy(dtype=float), grouped["w"].to_numpy(dtype=float)


def fastchat_multinomial_bootstrap(
    cells: PairCells, rounds: int, workers: int, seed: int
) -> np.ndarray:
    """FastChat's `get_bootstrap_result_elo_mle_with_tie`: multinomial counts, weights
    divided by the number of battles, one fit per round in a multiprocessing pool."""
    import multiprocessing as mp

    matchups, outcomes, weights = fastchat_unique_rows(cells)
    n = int(weights.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, weights / weights.sum(), size=rounds) / n
    fit = partial(fastchat_fit_bt, matchups, outcomes, cells.n_models)
    with mp.get_context("fork").Pool(workers) as pool:
        results = pool.map(fit, list(draws))
    return 400.0 * np.array(results) + 1000.0


def fastchat_pivot_round(
    battles: pd.DataFrame, models: list[str], rng: np.random.Generator
) -> np.ndarray:
    """One round of FastChat's notebook bootstrap: resample battles with pandas, pivot into
    win tables (a tie counts as one win each way, wins twice), fit with scipy."""
    sample = battles.sample(frac=1.0, replace=True, random_state=rng)

    def pivot(rows: pd.DataFrame) -> pd.DataFrame:
        table = pd.pivot_table(
            rows, index="model_a", columns="model_b", aggfunc="size", fill_value=0
        )
        return table.reindex(index=models, columns=models, fill_value=0)

    a_win = pivot(sample[sample["winner"] == "model_a"])
    b_win = pivot(sample[sample["winner"] == "model_b"])
    tie = pivot(sample[sample["winner"].str.startswith("tie")])
    wins = (2 * a_win + 2 * b_win.T + tie + tie.T).to_numpy(dtype=float)
    i, j = np.nonzero(wins + wins.T)
    keep = i != j
    matchups = np.stack([i[keep], j[keep]], axis=1)
    return (
        400.0 * fastchat_fit_bt(matchups, np.ones(keep.sum()), len(models), wins[i[keep], j[keep]])
        + 1000.0
    )


# ------------------------------------------------------------------------------ evalica
EVALICA_SCRIPT = r"""
import json, sys, time
import numpy as np
import evalica
data = np.load(sys.argv[1])
rounds = int(sys.argv[2])
names = [str(m) for m in data["models"]]
xs = [names[i] for i in data["a"]]
ys = [names[i] for i in data["b"]]
code = {0: evalica.Winner.X, 1: evalica.Winner.Y, 2: evalica.Winner.Draw, 3: evalica.Winner.Draw}
winners = [code[int(o)] for o in data["outcome"]]
index = evalica.indexing(xs, ys)[2] if hasattr(evalica, "indexing") else None
full = evalica.bradley_terry(xs, ys, winners, weights=data["count"].tolist())
counts = data["draws"]
started = time.perf_counter()
for r in range(rounds):
    evalica.bradley_terry(xs, ys, winners, weights=counts[r].tolist())
elapsed = time.perf_counter() - started
scores = full.scores.reindex(names).to_numpy()
print(json.dumps({"elapsed_s": elapsed, "rounds": rounds, "iterations": int(full.iterations),
                  "scores": scores.tolist(), "version": evalica.__version__}))
"""


def run_evalica(cells: PairCells, rounds: int, seed: int) -> dict[str, Any] | None:
    python = EVALICA_VENV / "bin" / "python"
    if not python.exists():
        print(f"  installing evalica=={EVALICA_VERSION} into {EVALICA_VENV} ...")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(EVALICA_VENV)], capture_output=True
        )
        pip = (
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"evalica=={EVALICA_VERSION}"],
                capture_output=True,
                text=True,
            )
            if made.returncode == 0
            else None
        )
        if pip is None or pip.returncode != 0:
            print("  note: evalica could not be installed; skipping it")
            return None
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / "cells.npz"
    draws = multinomial_counts(np.random.default_rng(seed), cells.cell_count, rounds)
    np.savez(
        data,
        models=np.array(cells.models),
        a=cells.pair_a[cells.cell_pair],
        b=cells.pair_b[cells.cell_pair],
        outcome=cells.cell_outcome,
        count=cells.cell_count,
        draws=draws,
    )
    done = subprocess.run(
        [str(python), "-c", EVALICA_SCRIPT, str(data), str(rounds)], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"  note: evalica failed ({done.stderr.strip()[-300:]}); skipping it")
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------- style control baseline
def fastchat_style_round(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One round of FastChat's style-control bootstrap: resample battles (both copies of a
    battle go together), fit scikit-learn's default logistic regression (L2, C = 1, no
    intercept, lbfgs) - here scipy L-BFGS on the same objective."""
    half = len(y) // 2
    picks = rng.integers(0, half, half)
    rows = np.concatenate([picks, picks + half])
    xs, ys = x[rows], y[rows]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = xs @ w
        loss = -float(np.sum(ys * log_expit(z) + (1 - ys) * log_expit(-z))) + 0.5 * float(w @ w)
        return loss, xs.T @ (expit(z) - ys) + w

    result = minimize(
        objective, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 100}
    )
    return np.asarray(result.x)


def part_a(args: argparse.Namespace, report: dict[str, Any]) -> None:
    print(f"A. Bradley-Terry on {ARENA.name}")
    cells, load_s = timed(lambda: cells_from_battles(read_battles(ARENA)))
    print(
        f"  {cells.n_battles:,.0f} battles, {cells.n_models} models, {len(cells.cell_count):,} "
        f"unique (pair, outcome) cells; read + deduplicate {load_s:.2f} s"
    )
    fit, fit_s = timed(fit_bradley_terry, cells)
    print(
        f"  lmaudit MLE: {fit_s:.3f} s, {fit.iterations} Newton steps, max relative gradient "
        f"{fit.gradient_max:.1e}"
    )
    walls, critical = [], []
    for repeat in range(args.repeats):
        boot, wall = timed(
            bootstrap_bradley_terry,
            cells,
            fit,
            rounds=args.rounds,
            seed=repeat,
            workers=args.workers,
        )
        walls.append(wall)
        critical.append(max(boot.worker_cpu_s))
    cpu_start = time.process_time()
    bootstrap_bradley_terry(cells, fit, rounds=args.rounds, seed=0, workers=1)
    single_cpu = time.process_time() - cpu_start
    lmaudit_s = float(np.median(walls))
    print(
        f"  lmaudit bootstrap, {args.rounds} rounds, {args.workers} workers: "
        f"median wall {lmaudit_s:.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)}); "
        f"busiest worker's CPU {np.median(critical):.2f} s; one process: {single_cpu:.2f} s CPU; "
        f"{boot.not_converged} rounds failed the gradient check"
    )
    results: dict[str, Any] = {
        "lmaudit_bootstrap_s": walls,
        "lmaudit_busiest_worker_cpu_s": critical,
        "lmaudit_single_process_cpu_s": single_cpu,
        "lmaudit_fit_s": fit_s,
    }

    rounds = args.rounds if args.full else args.baseline_rounds
    _, fc_s = timed(fastchat_multinomial_bootstrap, cells, rounds, args.workers, 0)
    fc_full = fc_s * args.rounds / rounds
    label = "measured" if rounds == args.rounds else f"extrapolated from {rounds} rounds"
    print(
        f"  FastChat multinomial + scipy per round ({args.workers} processes): {fc_full:.1f} s "
        f"({label}); x{fc_full / lmaudit_s:.0f} lmaudit"
    )
    matchups, outcomes, counts = fastchat_unique_rows(cells)
    full_fc = fastchat_fit_bt(matchups, outcomes, cells.n_models, counts)
    gap = (400 * full_fc - (400 * full_fc).mean()) - (fit.ratings - fit.ratings.mean())
    print(f"    its full-data fit differs from the MLE by up to {np.abs(gap).max():.2f} Elo points")
    results.update(
        fastchat_multinomial_s=fc_full,
        fastchat_multinomial_rounds_timed=rounds,
        fastchat_max_gap_elo=float(np.abs(gap).max()),
    )

    frame = pd.DataFrame(
        {
            "model_a": np.repeat(
                np.array(cells.models)[cells.pair_a[cells.cell_pair]], cells.cell_count.astype(int)
            ),
            "model_b": np.repeat(
                np.array(cells.models)[cells.pair_b[cells.cell_pair]], cells.cell_count.astype(int)
            ),
            "winner": np.repeat(
                np.array(["model_a", "model_b", "tie", "tie (bothbad)"])[cells.cell_outcome],
                cells.cell_count.astype(int),
            ),
        }
    )
    rng = np.random.default_rng(0)
    per_round = [
        timed(fastchat_pivot_round, frame, list(cells.models), rng)[1]
        for _ in range(args.pivot_rounds)
    ]
    pivot_full = float(np.mean(per_round)) * args.rounds / args.workers
    print(
        f"  FastChat pandas pivot + scipy per round: {np.mean(per_round):.2f} s/round -> "
        f"{pivot_full:.0f} s for {args.rounds} rounds on {args.workers} cores (extrapolated from "
        f"{args.pivot_rounds} rounds); x{pivot_full / lmaudit_s:.0f} lmaudit"
    )
    results.update(fastchat_pivot_s=pivot_full, fastchat_pivot_round_s=per_round)

    if not args.no_evalica:
        ev_rounds = args.rounds if args.full else args.evalica_rounds
        ev = run_evalica(cells, ev_rounds, 0)
        if ev:
            ev_full = ev["elapsed_s"] * args.rounds / ev_rounds / args.workers
            scores = np.asarray(ev["scores"])
            ev_ratings = 400 * np.log10(scores)
            gap = (ev_ratings - ev_ratings.mean()) - (fit.ratings - fit.ratings.mean())
            print(
                f"  evalica {ev['version']} bradley_terry per round: "
                f"{ev['elapsed_s'] / ev_rounds:.3f} "
                f"s/round -> {ev_full:.1f} s for {args.rounds} rounds on {args.workers} cores "
                f"(from {ev_rounds} rounds); x{ev_full / lmaudit_s:.1f} lmaudit; its full fit "
                f"({ev['iterations']} iterations) is within {np.abs(gap).max():.2f} Elo of the MLE"
            )
            results.update(
                evalica_s=ev_full,
                evalica_version=ev["version"],
                evalica_max_gap_elo=float(np.abs(gap).max()),
            )
    report["arena"] = results
    busiest = float(np.median(critical))
    print(
        f"  goal, 1,000 rounds in < 2 s on 2 cores: wall {lmaudit_s:.2f} s here "
        f"({'met' if lmaudit_s < 2.0 else 'NOT met'} at load {os.getloadavg()[0]:.1f}); "
        f"the busiest worker needed {busiest:.2f} s of CPU, the wall time on 2 idle cores "
        f"({'met' if busiest < 2.0 else 'NOT met'})"
    )


def part_b(args: argparse.Namespace, report: dict[str, Any]) -> None:
    print(f"\nB. Style-controlled Bradley-Terry on {args.style_battles:,} simulated battles")
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 0.5, 20)
    beta = np.array([0.3, 0.1, 0.05, 0.15, 0.0])
    sim = simulate_battles(theta, args.style_battles, beta=beta, tie_rate=0.3, seed=2)
    design, design_s = timed(sim.design)
    fit, fit_s = timed(fit_contextual_bt, design)
    cov, sandwich_s = timed(contextual_sandwich, design, fit)
    boot, boot_s = timed(
        bootstrap_contextual_bt, design, fit, rounds=args.style_rounds, seed=0, workers=args.workers
    )
    se = np.sqrt(np.diag(cov))[20:]
    print(
        f"  lmaudit: features {design_s:.2f} s, Newton fit {fit_s:.2f} s ({fit.iterations} steps), "
        f"sandwich {sandwich_s:.2f} s, bootstrap {args.style_rounds} rounds {boot_s:.1f} s "
        f"({args.workers} workers) -> {boot_s * 1000 / args.style_rounds:.0f} s per 1,000 rounds"
    )
    for name, true, est, s, b in zip(
        design.names, beta, fit.beta, se, boot.beta.std(axis=0, ddof=1), strict=True
    ):
        print(
            f"    {name:<10} truth {true:+.3f}  estimate {est:+.4f} +- {1.96 * s:.4f} "
            f"(sandwich 95%); bootstrap se {b:.4f} vs sandwich {s:.4f}"
        )
    n, m = len(sim.a), len(sim.models)
    x = np.zeros((2 * n, m + design.features.shape[1]))
    rows = np.arange(2 * n)
    x[rows, np.concatenate([sim.a, sim.a])] = LN10
    x[rows, np.concatenate([sim.b, sim.b])] = -LN10
    x[:, m:] = np.concatenate([design.features, design.features])
    y = np.zeros(2 * n)
    y[:n] = sim.outcome == 0
    y[n:] = sim.outcome == 0
    tie = sim.outcome == 2
    y[:n][tie] = 1.0  # a tie becomes one win for a (first copy) and one for b (second copy)
    per_round = [
        timed(fastchat_style_round, x, y, rng)[1] for _ in range(args.style_baseline_rounds)
    ]
    fc_full = float(np.mean(per_round)) * 1000 / args.workers
    ours = boot_s * 1000 / args.style_rounds
    print(
        f"  FastChat style control (2N-row design, L2 logistic regression per round): "
        f"{np.mean(per_round):.1f} s/round -> {fc_full:.0f} s per 1,000 rounds on {args.workers} "
        f"cores (extrapolated from {args.style_baseline_rounds} rounds); "
        f"x{fc_full / ours:.0f} lmaudit"
    )
    report["style"] = {
        "battles": n,
        "design_s": design_s,
        "fit_s": fit_s,
        "sandwich_s": sandwich_s,
        "bootstrap_rounds": args.style_rounds,
        "bootstrap_s": boot_s,
        "fastchat_round_s": per_round,
        "fastchat_per_1000_s": fc_full,
        "beta_truth": beta.tolist(),
        "beta": fit.beta.tolist(),
        "beta_se": se.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats of lmaudit's bootstrap"
    )
    parser.add_argument("--baseline-rounds", type=int, default=40, help="rounds timed for FastChat")
    parser.add_argument(
        "--pivot-rounds", type=int, default=3, help="rounds timed for the pivot method"
    )
    parser.add_argument("--evalica-rounds", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="run every baseline for all rounds")
    parser.add_argument("--no-evalica", action="store_true")
    parser.add_argument("--style-battles", type=int, default=1_000_000)
    parser.add_argument("--style-rounds", type=int, default=50)
    parser.add_argument("--style-baseline-rounds", type=int, default=2)
    parser.add_argument("--skip-style", action="store_true")
    args = parser.parse_args()
    if not ARENA.is_file():
        sys.exit(f"missing {ARENA}: the benchmark needs ../shared/external/arena")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: {cores} usable cores, load average {os.getloadavg()[0]:.1f} "
        f"(other processes slow every timing below)"
    )
    report: dict[str, Any] = {
        "cores": cores,
        "load_average": os.getloadavg()[0],
        "args": vars(args),
    }
    part_a(args, report)
    if not args.skip_style:
        part_b(args, report)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"\nwrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
