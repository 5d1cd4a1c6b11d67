"""Benchmark: OpenAI-compatible generation, lmaudit vs lm-evaluation-harness 0.4.13.

One instant local completions server (its own process, a bare asyncio protocol: every
prompt is answered " 42" at once, so the clients are what is measured) and one task of
`--requests` (default 2000) distinct generation prompts in a JSONL file written here. Both
tools run with the same concurrency (default 32), greedy, `max_tokens` 16, stop "\\n":

End to end, what a user runs, timed from process start to exit (wall, and CPU of the
client process from its rusage; the server's CPU is not counted):
* `lmaudit run --model openai:bench@URL --task TASK.yaml --max-concurrency C --no-cache
  --no-progress --out DIR [--prompts-per-request N]`
* `lm_eval --model local-completions --model_args model=bench,base_url=URL/completions,
  num_concurrent=C,tokenized_requests=False,tokenizer_backend=None,max_retries=3
  --tasks TASK --include_path DIR --output_path DIR [--batch_size N]`, in bench/.venvs/lm-eval
  (a `generate_until` task over the same JSONL via `dataset_path: json`; offline).

Request phase, in-process: lmaudit `runner.evaluate` (GenerateTask, numeric scorer:
building requests, sending them, scoring answers) and, in the same process with a fresh
backend, the backend's `stream` alone (no task, runner or scoring); lm-eval
`LocalCompletionsAPI.generate_until` (building payloads, sending, parsing; its scoring
comes later). Each is timed around that call only, with the process CPU time it used
(`time.process_time`) divided by the number of prompts ("client CPU ms per request").

Each configuration runs at 1 prompt per HTTP request (both tools' default) and at
`--pack` prompts per request (lmaudit `--prompts-per-request`, lm-eval `--batch_size`: both
send `prompt` as a list). The server counts HTTP requests and prompts, and every run is
checked to have sent all prompts in the expected number of requests and scored every
answer correct. One untimed warm-up of each command (page cache, lm-eval's dataset cache),
then `--repeats` rounds, tools interleaved; medians reported.

    .venv/bin/python bench/api_throughput.py [--requests 2000] [--concurrency 32]
        [--repeats 3] [--pack 16]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
LM_EVAL_BIN = ROOT / "bench" / ".venvs" / "lm-eval" / "bin"
LMAUDIT_BIN = ROOT / ".venv" / "bin" / "lmaudit"
LM_EVAL_VERSION = "0.4.13"
TASK = "api_bench"
MAX_TOKENS = 16
ANSWER = " 42"


def prompts(n: int) -> list[str]:
    return [f"Question {i}: what is 40 + 2?\nAnswer:" for i in range(n)]


def write_task_files(work: Path, n: int) -> tuple[Path, Path]:
    """The JSONL data, lmaudit's YAML task and lm-eval's task directory; (yaml, lm-eval dir)."""
    data = work / "data.jsonl"
    with data.open("w") as handle:
        for i, prompt in enumerate(prompts(n)):
            handle.write(json.dumps({"id": str(i), "question": prompt, "answer": "42"}) + "\n")
    ours = work / f"{TASK}.yaml"
    ours.write_text(
        f"name: {TASK}\ntype: generate\ndataset: {{path: {data}}}\nid: id\n"
        f'prompt: "{{question}}"\ntarget: answer\nscorer: numeric\n'
        f'stop: ["\\n"]\nmax_tokens: {MAX_TOKENS}\n'
    )
    theirs = work / "lm_eval_tasks"
    theirs.mkdir()
    (theirs / f"{TASK}.yaml").write_text(
        f"task: {TASK}\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{question}}"\ndoc_to_target: "{{answer}}"\n'
        "generation_kwargs:\n"
        f'  until: ["\\n"]\n  max_gen_toks: {MAX_TOKENS}\n  do_sample: false\n'
        "  temperature: 0\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n"
        '    higher_is_better: true\n    regexes_to_ignore: [" "]\n'
    )
    return ours, theirs


# -- the server (its own process) ---------------------------------------------------------------


class _InstantServer:
    """asyncio protocol: HTTP/1.1 keep-alive; a POST with n prompts gets n choices of ANSWER.
    GET /count answers {"requests": ..., "prompts": ...} so far."""

    requests = 0
    prompts = 0
    bodies: ClassVar[dict[int, bytes]] = {}

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    @classmethod
    def body(cls, n: int) -> bytes:
        if n not in cls.bodies:
            choice = {"text": ANSWER, "logprobs": None, "finish_reason": "stop"}
            cls.bodies[n] = json.dumps(
                {
                    "id": "cmpl-bench",
                    "object": "text_completion",
                    "model": "bench",
                    "choices": [{"index": i, **choice} for i in range(n)],
                    "usage": {"prompt_tokens": 12 * n, "completion_tokens": 2 * n},
                }
            ).encode()
        return cls.bodies[n]

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def eof_received(self) -> None:
        return None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            raw = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            if head.startswith("GET /count"):
                counts = {"requests": _InstantServer.requests, "prompts": _InstantServer.prompts}
                payload = json.dumps(counts).encode()
            else:
                prompt = json.loads(raw).get("prompt")
                n = len(prompt) if isinstance(prompt, list) else 1
                _InstantServer.requests += 1
                _InstantServer.prompts += n
                payload = self.body(n)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
            )


def serve(port: int) -> None:
    """A bare asyncio protocol rather than aiohttp.web, which spends ~0.3 ms of CPU per
    request: on a small machine that would make the server, not the clients, the limit."""
    import asyncio

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_InstantServer, "127.0.0.1", port)  # type: ignore[arg-type]
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(run())


def start_server() -> tuple[subprocess.Popen[str], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, __file__, "--serve", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        sys.exit("the benchmark server did not start")
    return server, f"http://127.0.0.1:{port}/v1"


def counts(base: str) -> tuple[int, int]:
    with urllib.request.urlopen(base.removesuffix("/v1") + "/count") as reply:
        seen = json.loads(reply.read())
    return int(seen["requests"]), int(seen["prompts"])


# -- in-process request phase ---------------------------------------------------------------


def lmaudit_worker(url: str, n: int, concurrency: int, pack: int) -> None:
    """The openai: backend's `stream` alone, then `runner.evaluate` on a GenerateTask (each
    with a fresh backend); prints a JSON report."""
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.runner import evaluate
    from lmaudit.core.types import GenerateRequest, GenerationParams, Sample
    from lmaudit.tasks.generic import GenerateTask

    options = {"max_concurrency": concurrency, "prompts_per_request": pack}
    backend: Any = load_backend(f"openai:bench@{url}", options)
    params = GenerationParams(max_tokens=MAX_TOKENS, stop=("\n",))
    requests = [GenerateRequest(p, params=params) for p in prompts(n)]
    wall, cpu = time.perf_counter(), time.process_time()
    right = sum(answer.text == ANSWER for _, answer in backend.stream(requests))
    stream_s, stream_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    backend.close()

    backend = load_backend(f"openai:bench@{url}", options)
    samples = [Sample(str(i), p, "42") for i, p in enumerate(prompts(n))]
    task = GenerateTask("bench", lambda: samples, max_tokens=MAX_TOKENS, stop=("\n",))
    wall, cpu = time.perf_counter(), time.process_time()
    records = evaluate(task, backend, samples, show_progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend.close()
    if right != n or sum(r.metrics["acc_flexible"] == 1.0 for r in records) != n:
        sys.exit("lmaudit: wrong or missing answers")
    report = {"phase_s": wall, "phase_cpu_s": cpu, "stream_s": stream_s}
    print(json.dumps({**report, "stream_cpu_s": stream_cpu_s}))


LM_EVAL_WORKER = r"""
import json, sys, time
from lm_eval.api.instance import Instance
from lm_eval.models.openai_completions import LocalCompletionsAPI

url, n, concurrency, max_tokens, batch = sys.argv[1], *map(int, sys.argv[2:6])
prompts = json.loads(sys.stdin.read())
model = LocalCompletionsAPI(
    base_url=url + "/completions", model="bench", tokenizer_backend=None,
    tokenized_requests=False, num_concurrent=concurrency, max_retries=3, timeout=60,
    max_gen_toks=max_tokens, batch_size=batch,
)
instances = [
    Instance("generate_until", {}, (p, {"until": ["\n"], "max_gen_toks": max_tokens}), i)
    for i, p in enumerate(prompts)
]
wall, cpu = time.perf_counter(), time.process_time()
outputs = model.generate_until(instances, disable_tqdm=True)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
if len(outputs) != n or any(o.strip() != "42" for o in outputs):
    sys.exit("lm-eval: wrong or missing answers")
print(json.dumps({"phase_s": wall, "phase_cpu_s": cpu}))
"""


# -- running and checking one command ------------------------------------------------------------


def run_command(
    command: list[str], base: str, env: dict[str, str], expect: tuple[int, int], stdin: str = ""
) -> dict[str, Any]:
    """Run to completion: wall seconds, client CPU seconds (rusage), its last JSON line.
    Exits unless the server saw exactly `expect` = (HTTP requests, prompts)."""
    before = counts(base)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    sent = tuple(a - b for a, b in zip(counts(base), before, strict=True))
    if sent != expect:
        sys.exit(f"{command[0]}: the server saw (requests, prompts) {sent}, expected {expect}")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return {"wall_s": wall, "cpu_s": cpu, "load": load, **report}


def check_lmaudit_run(out: Path) -> None:
    results = json.loads((out / "results.json").read_text())
    if results["metrics"]["acc_flexible"]["value"] != 1.0:
        sys.exit(f"lmaudit run: not every answer scored correct ({out})")


def check_lm_eval_run(out: Path) -> None:
    found = sorted(out.rglob("results_*.json"))
    if not found:
        sys.exit(f"lm_eval wrote no results under {out}")
    results = json.loads(found[-1].read_text())["results"][TASK]
    if results.get("exact_match,none") != 1.0:
        sys.exit(f"lm_eval: not every answer scored correct ({results})")


@dataclass
class Config:
    """One tool at one packing: its CLI (without the output flag), its in-process command
    (which sends the prompts `phase_sends` times) and the measurements so far."""

    tool: str
    setting: str
    pack: int
    cli: list[str]
    out_flag: str
    check: Callable[[Path], None]
    phase: list[str]
    stdin: str = ""
    phase_sends: int = 1
    runs: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        rows = self.runs if key in ("wall_s", "cpu_s") else self.phases
        return statistics.median(row[key] for row in rows)


def configurations(args: argparse.Namespace, base: str, ours: Path, theirs: Path) -> list[Config]:
    """Each tool at 1 and at --pack prompts per request."""
    n, c = str(args.requests), str(args.concurrency)
    made = []
    for pack in (1, args.pack):
        cli = [
            str(LMAUDIT_BIN), "run", "--model", f"openai:bench@{base}", "--task", str(ours),
            "--max-concurrency", c, "--no-cache", "--no-progress",
        ]  # fmt: skip
        if pack > 1:
            cli += ["--prompts-per-request", str(pack)]
        worker = [sys.executable, __file__, "--lmaudit-worker", base, n, c, str(pack)]
        made.append(
            Config(
                "lmaudit",
                f"prompts_per_request={pack}",
                pack,
                cli,
                "--out",
                check_lmaudit_run,
                worker,
                phase_sends=2,  # stream, then evaluate
            )
        )
    model_args = (
        f"model=bench,base_url={base}/completions,num_concurrent={c},tokenized_requests=False,"
        "tokenizer_backend=None,max_retries=3"
    )
    for pack in (1, args.pack):
        cli = [
            str(LM_EVAL_BIN / "lm_eval"), "--model", "local-completions",
            "--model_args", model_args, "--tasks", TASK, "--include_path", str(theirs),
        ]  # fmt: skip
        if pack > 1:
            cli += ["--batch_size", str(pack)]
        worker = [str(LM_EVAL_BIN / "python"), "-c", LM_EVAL_WORKER, base, n, c]
        made.append(
            Config(
                f"lm-eval {LM_EVAL_VERSION}",
                f"batch_size={pack}",
                pack,
                cli,
                "--output_path",
                check_lm_eval_run,
                [*worker, str(MAX_TOKENS), str(pack)],
                stdin=json.dumps(prompts(args.requests)),
            )
        )
    return made


def measure_round(
    configs: list[Config], base: str, env: dict[str, str], n: int, work: Path, tag: str
) -> None:
    """Every configuration once: its CLI, then its in-process command."""
    for config in configs:
        expect = (math.ceil(n / config.pack), n)
        out = work / "runs" / f"{config.tool.split()[0]}-{config.pack}-{tag}"
        run = run_command([*config.cli, config.out_flag, str(out)], base, env, expect)
        config.check(out)
        sends = config.phase_sends
        phase = run_command(
            config.phase, base, env, (sends * expect[0], sends * expect[1]), config.stdin
        )
        if tag != "warm-up":
            config.runs.append(run)
            config.phases.append(phase)


def report(configs: list[Config], n: int, pack: int) -> None:
    print("e2e: the CLI from process start to exit; phase: lmaudit runner.evaluate, lm-eval")
    print("generate_until; stream: lmaudit's backend alone. CPU: client process, per prompt.")
    header = (
        f"{'tool':<14} {'configuration':<23} {'HTTP':>5} | {'e2e s':>6} {'e2e req/s':>9} "
        f"{'CPU ms/req':>10} | {'phase req/s':>11} {'CPU ms/req':>10} | "
        f"{'stream req/s':>12} {'CPU ms/req':>10}"
    )
    print(header)
    print("-" * len(header))
    summary: dict[tuple[bool, int], dict[str, float]] = {}
    for c in configs:
        wall, phase = c.median("wall_s"), c.median("phase_s")
        cpu_ms = 1000 * c.median("phase_cpu_s") / n
        ours = c.tool == "lmaudit"
        summary[ours, c.pack] = {"wall": wall, "rate": n / phase, "cpu_ms": cpu_ms}
        stream = f"{'-':>12} {'-':>10}"
        if ours:
            summary[ours, c.pack]["stream_rate"] = n / c.median("stream_s")
            stream = (
                f"{n / c.median('stream_s'):>12.0f} {1000 * c.median('stream_cpu_s') / n:>10.3f}"
            )
        print(
            f"{c.tool:<14} {c.setting:<23} {math.ceil(n / c.pack):>5} | {wall:>6.2f} "
            f"{n / wall:>9.0f} {1000 * c.median('cpu_s') / n:>10.3f} | {n / phase:>11.0f} "
            f"{cpu_ms:>10.3f} | {stream}"
        )
    print("\nlmaudit vs lm-eval, like for like (> 1: lmaudit faster / cheaper):")
    for size in (1, pack):
        a, b = summary[True, size], summary[False, size]
        e2e = b["wall"] / a["wall"]
        print(
            f"  {size:>2} prompt(s) per request: end to end {e2e:.2f}x; request phase "
            f"{a['rate'] / b['rate']:.2f}x (lmaudit backend stream alone "
            f"{a['stream_rate'] / b['rate']:.2f}x); client CPU per request, lm-eval's / "
            f"lmaudit's: {b['cpu_ms'] / a['cpu_ms']:.2f}x"
        )
        verdict = "goal met" if e2e >= 5 else "goal NOT met"
        print(f"     >= 5x lm-eval end to end: {verdict} ({e2e:.2f}x)")
    for size in (1, pack):
        ms = summary[True, size]["cpu_ms"]
        verdict = "goal met" if ms < 0.5 else "goal NOT met"
        print(
            f"  lmaudit client CPU per request (runner.evaluate) at {size} per request: "
            f"{ms:.3f} ms: {verdict} (< 0.5 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pack", type=int, default=16, help="prompts per request, 2nd setting")
    parser.add_argument("--serve", metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--lmaudit-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve))
        return
    if args.lmaudit_worker:
        url, n_text, c_text, pack_text = args.lmaudit_worker
        lmaudit_worker(url, int(n_text), int(c_text), int(pack_text))
        return
    if not (LM_EVAL_BIN / "lm_eval").exists():
        sys.exit(f"missing {LM_EVAL_BIN}/lm_eval: a venv with lm_eval[api]=={LM_EVAL_VERSION}")

    n = args.requests
    work = Path(tempfile.mkdtemp(prefix="lmaudit-api-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(work / "hf_datasets"),
    )
    ours, theirs = write_task_files(work, n)
    print(f"cpus: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}")
    print(
        f"{n} generation prompts, concurrency {args.concurrency}, 1 and {args.pack} prompts "
        f"per HTTP request; the server answers {ANSWER!r} at once; medians of {args.repeats}"
    )
    server, base = start_server()
    try:
        configs = configurations(args, base, ours, theirs)
        measure_round(configs, base, env, n, work, "warm-up")
        for k in range(args.repeats):
            measure_round(configs, base, env, n, work, str(k))
    finally:
        server.terminate()
        server.wait()
    loads = [run["load"] for c in configs for run in c.runs]
    print(
        f"load average (1 min) during the runs: median {statistics.median(loads):.2f}, "
        f"max {max(loads):.2f} (other processes share these CPUs)\n"
    )
    report(configs, n, args.pack)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
