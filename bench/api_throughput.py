"""Benchmark: OpenAI-compatible generation throughput, lmaudit vs lm-evaluation-harness 0.4.13.

Starts a minimal completions server in its own process (aiohttp; every request is answered
at once with the same short completion, " 42", so the clients are what is measured), then
sends `--requests` generation requests (default 2000, all distinct prompts) with the same
concurrency (default 32) through

1. lmaudit: `runner.evaluate` on a GenerateTask (numeric scorer) with the `openai:` backend,
   then the backend's `stream` alone (no task, runner or scoring), in one worker process;
2. lm-eval: `LocalCompletionsAPI.generate_until` on the same prompts as `Instance`s
   (`tokenizer_backend=None, tokenized_requests=False, num_concurrent=C, max_gen_toks=16,
   until=["\\n"]`; no tokenizer, nothing downloaded) in its own venv (bench/.venvs/lm-eval).

Each client runs `--repeats` times (the median is reported), each time as a fresh process
timed end to end by this script (interpreter start, imports, requests, scoring). Inside the
workers, the request phase is timed on its own, with its process CPU time (user + system,
`time.process_time`); the server's CPU is not counted, it is another process. The server
counts requests, so each run is checked to have sent exactly `--requests` requests.

    .venv/bin/python bench/api_throughput.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / "bench" / ".venvs" / "lm-eval" / "bin" / "python"
LM_EVAL_VERSION = "0.4.13"
MAX_TOKENS = 16
ANSWER = " 42"


def prompts(n: int) -> list[str]:
    return [f"Question {i}: what is 40 + 2?\nAnswer:" for i in range(n)]


# -- the server (its own process) ---------------------------------------------------------------


class _FixedAnswer:
    """asyncio protocol of the benchmark server: HTTP/1.1 keep-alive, any POST gets BODY."""

    body = json.dumps(
        {
            "id": "cmpl-bench",
            "object": "text_completion",
            "model": "bench",
            "choices": [{"index": 0, "text": ANSWER, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
        }
    ).encode()
    served = 0

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

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
            self.buffer = self.buffer[end + 4 + length :]
            if head.startswith("GET /count"):
                payload = str(_FixedAnswer.served).encode()
            else:
                _FixedAnswer.served += 1
                payload = self.body
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
            )


def serve(port: int) -> None:
    """Answer every POST at once with the same completion; GET /count: how many so far.

    A bare asyncio protocol rather than aiohttp.web: the latter spends ~0.3 ms of CPU per
    request, which on a small machine would make the server, not the clients, the limit.
    """
    import asyncio

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_FixedAnswer, "127.0.0.1", port)  # type: ignore[arg-type]
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(run())


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server() -> tuple[subprocess.Popen[str], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        sys.exit("the benchmark server did not start")
    return server, f"http://127.0.0.1:{port}"


def served(base: str) -> int:
    with urllib.request.urlopen(f"{base}/count") as reply:
        return int(reply.read())


# -- the lmaudit worker ---------------------------------------------------------------------------


def lmaudit_worker(url: str, n: int, concurrency: int, mode: str) -> None:
    """mode "evaluate": runner.evaluate on a GenerateTask; "stream": the backend alone."""
    wall0 = time.perf_counter()
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.types import GenerateRequest, GenerationParams, Sample

    backend: Any = load_backend(f"openai:bench@{url}/v1", {"max_concurrency": concurrency})
    if mode == "evaluate":
        from lmaudit.core.runner import evaluate
        from lmaudit.tasks.generic import GenerateTask

        samples = [Sample(str(i), p, "42") for i, p in enumerate(prompts(n))]
        task = GenerateTask("bench", lambda: samples, max_tokens=MAX_TOKENS, stop=("\n",))
        wall1, cpu1 = time.perf_counter(), time.process_time()
        records = evaluate(task, backend, samples, show_progress=False)
        wall2, cpu2 = time.perf_counter(), time.process_time()
        correct = sum(r.metrics["acc_flexible"] == 1.0 for r in records)
    else:
        params = GenerationParams(max_tokens=MAX_TOKENS, stop=("\n",))
        requests = [GenerateRequest(p, params=params) for p in prompts(n)]
        wall1, cpu1 = time.perf_counter(), time.process_time()
        correct = sum(answer.text == ANSWER for _, answer in backend.stream(requests))
        wall2, cpu2 = time.perf_counter(), time.process_time()
    backend.close()
    if correct != n:
        sys.exit(f"lmaudit {mode}: {n - correct} wrong or missing answers")
    report = {
        "startup_s": wall1 - wall0,
        "requests_s": wall2 - wall1,
        "requests_cpu_s": cpu2 - cpu1,
    }
    print(json.dumps(report))


# -- the lm-eval worker (run by the lm-eval venv's python) ---------------------------------------

LM_EVAL_WORKER = r"""
import json, sys, time
wall0 = time.perf_counter()
from lm_eval.api.instance import Instance
from lm_eval.models.openai_completions import LocalCompletionsAPI

url, n, concurrency, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prompts = json.loads(sys.stdin.read())
model = LocalCompletionsAPI(
    base_url=url + "/v1/completions", model="bench", tokenizer_backend=None,
    tokenized_requests=False, num_concurrent=concurrency, max_retries=3, timeout=60,
    max_gen_toks=max_tokens,
)
instances = [
    Instance("generate_until", {}, (p, {"until": ["\n"], "max_gen_toks": max_tokens}), i)
    for i, p in enumerate(prompts)
]
wall1, cpu1 = time.perf_counter(), time.process_time()
outputs = model.generate_until(instances, disable_tqdm=True)
wall2, cpu2 = time.perf_counter(), time.process_time()
if len(outputs) != n or any(o.strip() != "42" for o in outputs):
    sys.exit("lm-eval: wrong or missing answers")
print(json.dumps({"startup_s": wall1 - wall0, "requests_s": wall2 - wall1,
                  "requests_cpu_s": cpu2 - cpu1}))
"""


def ensure_lm_eval_api() -> None:
    """lm-eval's API models need its `api` extra (tenacity, tiktoken, ...) in its venv."""
    if not VENV_PYTHON.exists():
        sys.exit(f"missing {VENV_PYTHON}: create it by running bench/mc_loglikelihood.py once")
    check = [str(VENV_PYTHON), "-c", "import tenacity, tiktoken, aiohttp"]
    if subprocess.run(check, capture_output=True).returncode != 0:
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"lm_eval[api]=={LM_EVAL_VERSION}"], check=True)


# -- the driver -----------------------------------------------------------------------------------


def run_worker(
    command: list[str],
    stdin: str | None,
    server: subprocess.Popen[str],
    base: str,
    n: int,
    env: dict[str, str],
) -> dict[str, Any]:
    """Run a worker process: its JSON report, its end-to-end wall time, the server's CPU."""
    before, server_cpu = served(base), server_cpu_s(server.pid)
    start = time.perf_counter()
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"worker failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    sent = served(base) - before
    if sent != n:
        sys.exit(f"{command[1]}: the server answered {sent} requests, expected {n}")
    report["process_s"] = wall
    report["server_cpu_s"] = server_cpu_s(server.pid) - server_cpu
    return report


def median(reports: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--lmaudit-worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve))
        return
    if args.lmaudit_worker:
        url, n_text, c_text, mode = args.lmaudit_worker
        lmaudit_worker(url, int(n_text), int(c_text), mode)
        return
    ensure_lm_eval_api()

    n, c = args.requests, args.concurrency
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    env["HF_DATASETS_OFFLINE"] = "1"
    print(f"cpus: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}")
    print(f"{n} generation requests, concurrency {c}, server answers {ANSWER!r} at once")
    worker = [sys.executable, __file__, "--lmaudit-worker"]
    lm_eval = [str(VENV_PYTHON), "-c", LM_EVAL_WORKER]
    clients: dict[str, tuple[list[str], str | None]] = {
        "lmaudit runner.evaluate": ([*worker, "URL", str(n), str(c), "evaluate"], None),
        "lmaudit backend.stream only": ([*worker, "URL", str(n), str(c), "stream"], None),
        f"lm-eval {LM_EVAL_VERSION} generate_until": (
            [*lm_eval, "URL", str(n), str(c), str(MAX_TOKENS)],
            json.dumps(prompts(n)),
        ),
    }
    reports: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    server, base = start_server()
    try:
        for _ in range(args.repeats):
            for name, (command, stdin) in clients.items():
                command = [base if part == "URL" else part for part in command]
                reports[name].append(run_worker(command, stdin, server, base, n, env))
    finally:
        server.terminate()
        server.wait()
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes share these CPUs)")

    print(f"medians of {args.repeats} runs (request phase | whole process):")
    for name, runs in reports.items():
        wall, cpu = median(runs, "requests_s"), median(runs, "requests_cpu_s")
        print(
            f"  {name:<32} {n / wall:6.0f} req/s {wall:6.2f} s | "
            f"{median(runs, 'process_s'):6.2f} s end to end "
            f"(startup {median(runs, 'startup_s'):.2f} s) | client CPU "
            f"{1000 * cpu / n:.3f} ms/req, server CPU "
            f"{1000 * median(runs, 'server_cpu_s') / n:.3f} ms/req"
        )
    ours, theirs = reports["lmaudit runner.evaluate"], reports[list(reports)[-1]]
    phase = median(theirs, "requests_s") / median(ours, "requests_s")
    whole = median(theirs, "process_s") / median(ours, "process_s")
    overhead = 1000 * median(ours, "requests_cpu_s") / n
    print("speed-up of lmaudit runner.evaluate over lm-eval generate_until (their time / ours):")
    print(f"  request phase {phase:.2f}x, whole process {whole:.2f}x")
    print(f"goal >= 5x end to end: {'met' if whole >= 5 else 'NOT met'}")
    print(
        f"lmaudit client CPU per request {overhead:.3f} ms through runner.evaluate "
        f"(goal < 0.5 ms: {'met' if overhead < 0.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
