"""Benchmark: the HTML report of an audit of 100,000 samples.

Builds a synthetic audit with the project's own store code (RunWriter, aggregate_records,
an audit.json index): `--models` models × `--tasks` generation tasks, 100,000 samples in all
by default, each with a prompt, a chain-of-thought-like response (`--response-chars`
characters on average), the extracted answer, the target and 0/1 scores. Then it times:

1. `load_report` + `write_html` in this process (goal: under 10 s on 2 cores);
2. the size of report.html (goal: under 25 MB);
3. headless Chromium (Debian's /usr/bin/chromium via Selenium) showing the summary: the
   navigation-timing `domContentLoaded` and the first contentful paint of the page, and the
   moment the sample viewer is ready (goal for the summary: under 2 s).

    .venv/bin/python bench/report_build.py [--samples 100000] [--keep DIR]

Times are wall-clock seconds on this machine; the load average is printed beside them
because other work on a shared machine inflates them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.store import RunWriter, base_manifest
from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import SampleRecord, Usage

WORDS = ("the", "apples", "train", "leaves", "at", "each", "hour", "Maya", "reads", "pages",
         "of", "a", "novel", "every", "day", "how", "many", "does", "total", "cost",
         "dollars", "she", "buys", "boxes", "with", "and", "then", "gives", "away", "half")
METRICS = (MetricSpec("acc_flexible", Aggregation.MEAN),
           MetricSpec("extract_fail_flexible", Aggregation.MEAN, higher_is_better=False))


def _text(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def build_audit(root: Path, *, samples: int, models: int, tasks: int, response_chars: int,
                seed: int = 0) -> Path:
    """Write the run directories and audit.json; returns the audit directory."""
    per_run = samples // (models * tasks)
    rng = random.Random(seed)
    items = {t: [(f"item-{t}-{i:06d}", "Question: " + _text(rng, 220) + "?\nAnswer:",
                  str(rng.randint(1, 999))) for i in range(per_run)] for t in range(tasks)}
    stages = []
    for m in range(models):
        model = f"synthetic:model-{m}"
        skill = 0.45 + 0.1 * m
        for t in range(tasks):
            task = f"task{t}"
            rel = f"runs/model-{m}/{task}"
            writer = RunWriter(root / rel, base_manifest(
                kind="run", model_spec=model, model_fingerprint=f"synthetic:model-{m}@v1/none",
                task=task, task_spec={"name": task, "task_version": f"{task}-v1"},
                task_spec_hash=f"{t:064x}", seed=seed, n_samples=per_run))
            records = []
            for sample_id, prompt, target in items[t]:
                right = rng.random() < skill
                answer = target if right else str(int(target) + 1)
                response = _text(rng, response_chars) + f" The answer is {answer}."
                records.append(SampleRecord(
                    sample_id=sample_id, prompt=prompt, target=target, response=response,
                    extracted=answer, metrics={"acc_flexible": float(right),
                                               "extract_fail_flexible": 0.0},
                    usage=Usage(60, response_chars // 4, 0.0)))
            writer.append(records)
            metrics = aggregate_records(METRICS, records, seed=seed)
            writer.finish({
                "task": task, "n_samples": len(records),
                "metrics": {k: {**v.to_dict(), "higher_is_better": k == "acc_flexible"}
                            for k, v in metrics.items()},
                "usage": {"requests": len(records), "prompt_tokens": 60 * len(records),
                          "completion_tokens": response_chars // 4 * len(records)},
            })
            stages.append({"id": f"run/{model}/{task}", "kind": "run", "model": model,
                           "task": task, "variant": None, "dir": rel, "state": "done",
                           "error": None})
    (root / "audit.json").write_text(json.dumps({
        "format": "lmaudit.audit/1", "suite": {"name": "synthetic", "path": None,
                                               "sha256": "0" * 64},
        "models": [f"synthetic:model-{m}" for m in range(models)],
        "command": ["python", "bench/report_build.py"], "created": "synthetic",
        "lmaudit_version": "0.1.0", "references": {}, "stages": stages}))
    return root


def browser_timings(html: Path) -> dict[str, Any] | None:
    """Chromium's navigation timing for the report (None when Chromium is absent)."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="lmaudit-bench-chrome-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                              options=options)
    try:
        start = time.perf_counter()
        driver.get(html.resolve().as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.body.dataset.viewerReady") == "1")
        wall = time.perf_counter() - start
        timing = driver.execute_script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const paint = performance.getEntriesByName('first-contentful-paint')[0];
            return {dom_content_loaded_s: nav.domContentLoadedEventEnd / 1000,
                    load_s: nav.loadEventEnd / 1000,
                    first_contentful_paint_s: paint ? paint.startTime / 1000 : null,
                    cards: document.querySelectorAll('article.card').length,
                    tasks: new Set(Array.from(document.querySelectorAll('article.card'),
                                              c => c.dataset.task)).size};""")
        timing["viewer_ready_wall_s"] = wall
        # a text search over every sample, typed into the viewer (120 ms debounce included)
        from selenium.webdriver.common.by import By

        start = time.perf_counter()
        driver.execute_script("const s = document.getElementById('f-search');"
                              "s.value = 'item-0-000007';"
                              "s.dispatchEvent(new Event('input'));")
        WebDriverWait(driver, 60, poll_frequency=0.01).until(
            lambda d: d.find_element(By.ID, "viewer-count").text.split(" of ")[0]
            == str(timing["cards"] // max(1, timing["tasks"])))
        timing["search_s"] = time.perf_counter() - start
        return dict(timing)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--response-chars", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build the audit here and keep it")
    args = parser.parse_args()

    from lmaudit.report import load_report, write_html

    root = args.keep or Path(tempfile.mkdtemp(prefix="lmaudit-report-bench-"))
    try:
        start = time.perf_counter()
        build_audit(root, samples=args.samples, models=args.models, tasks=args.tasks,
                    response_chars=args.response_chars)
        built = time.perf_counter() - start
        start = time.perf_counter()
        report = load_report([root])
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        html = write_html(report, root / "report.html")
        written = time.perf_counter() - start
        size_mb = html.stat().st_size / 1e6
        print(f"audit: {len(report.samples):,} samples, {len(report.cards)} cards, "
              f"{report.comparison.n_tests} paired tests (built in {built:.1f} s)")
        print(f"load_report {loaded:.2f} s + write_html {written:.2f} s = "
              f"{loaded + written:.2f} s (goal < 10 s); cpus {os.cpu_count()}, "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"report.html {size_mb:.1f} MB (goal < 25 MB)")
        timings = browser_timings(html)
        if timings is None:
            print("chromium: not installed (/usr/bin/chromium, /usr/bin/chromedriver); "
                  "browser timing skipped")
        else:
            fcp = timings["first_contentful_paint_s"]
            print(f"chromium: summary painted at {fcp:.2f} s (first contentful paint; goal "
                  f"< 2 s), DOMContentLoaded {timings['dom_content_loaded_s']:.2f} s, "
                  f"load {timings['load_s']:.2f} s, sample viewer ready "
                  f"{timings['viewer_ready_wall_s']:.2f} s after navigation; "
                  f"{timings['cards']} cards shown; a text search over all samples "
                  f"{timings['search_s']:.2f} s (typing to rows shown, 0.12 s debounce)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
