"""Benchmark: the arena web app under simulated voters, on SQLite and on PostgreSQL.

The server is `lmaudit.arena.app` in its own process, started by the same
`lmaudit.arena.app.server.serve` as `lmaudit arena serve` (uvicorn, one process), over two
instant stand-in models, so the app and its database are what is measured. PostgreSQL is a
`pgserver` instance (its bundled PostgreSQL 16, default settings: fsync on, synchronous_commit
on) in a temporary directory, reached over its Unix socket with psycopg 3. `--voters` asyncio
clients (each its own session) first create and read `--battles` battles each (untimed), then
vote on all of them as fast as the server answers (timed): votes per second over the voting
phase, and p50/p99 latency of the vote requests. With `--kill`, the server gets SIGKILL when
half the votes are acknowledged and is restarted on the same database; voters retry a vote
whose connection failed (a 409 then means the vote was committed but its answer lost). Checked
at the end: every acknowledged vote is in the database.

The load generator runs on the same machine: each line also gives the CPU seconds that the
server, this client process and PostgreSQL used during the voting phase, and the load
average when it started, so a reader can tell whether the cores were free.

    .venv/bin/python bench/arena_load.py [--voters 16] [--battles 40] [--db sqlite|postgres|both]
        [--kill]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from lmaudit.arena.app.db import make_engine


class InstantBackend:
    """Answers every prompt with a fixed text at once."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    @property
    def capabilities(self) -> frozenset[Any]:
        from lmaudit.core.types import RequestKind

        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Any:
        from lmaudit.core.types import Fingerprint

        return Fingerprint("bench", "instant", "v1", "n/a")

    def generate(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        from lmaudit.core.types import Generation

        return [Generation(self.reply, "stop", 1, 1) for _ in requests]


def serve(db_url: str, port: int) -> None:
    """Run the arena server (the child process)."""
    from lmaudit.arena.app.models import ModelPool
    from lmaudit.arena.app.server import serve
    from lmaudit.arena.app.web import ArenaConfig, create_app

    pool = ModelPool({"x": InstantBackend("**x** answer"), "y": InstantBackend("- y answer")})  # type: ignore[dict-item]
    config = ArenaConfig(db_url=db_url, secret="bench", rate_capacity=1e9, rate_per_s=1e9)
    serve(create_app(pool, config), "127.0.0.1", port, log_level="error")


def start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", db_url, str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/session", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the arena server did not start")


async def voter(base: str, n: int, ready: asyncio.Event, out: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        headers = {"X-CSRF-Token": (await client.get("/api/session")).json()["csrf_token"]}
        ids = []
        for i in range(n):
            reply = await client.post("/api/battles", json={"prompt": f"p{i}"}, headers=headers)
            battle_id = reply.json()["battle_id"]
            await client.get(f"/api/battles/{battle_id}/stream")
            ids.append(battle_id)
        out["prepared"] += 1
        await ready.wait()
        for battle_id in ids:
            while True:
                started = time.perf_counter()
                try:
                    reply = await client.post(
                        f"/api/battles/{battle_id}/vote", json={"choice": "a"}, headers=headers
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)  # the server is restarting: retry
                    continue
                if reply.status_code == 200:
                    out["latencies"].append(time.perf_counter() - started)
                    out["acked"].add(battle_id)
                elif reply.status_code == 409:
                    out["committed_unacked"] += 1
                else:
                    out["errors"] += 1
                break


class CpuMeter:
    """CPU seconds (user + system) used by the server, this process and the benchmark's own
    PostgreSQL (its postmaster, its live backends and the ended ones the postmaster reaped;
    not other PostgreSQL servers on the machine)."""

    def __init__(self, server: list[subprocess.Popen[bytes]],
                 postgres_data: Path | None = None) -> None:
        self.server = server
        self.postgres_data = postgres_data
        self.used = {"server": 0.0, "client": 0.0, "postgres": 0.0}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        import psutil

        def seconds(process: psutil.Process) -> float:
            try:
                times = process.cpu_times()
            except psutil.Error:  # gone (killed server, ended backend)
                return 0.0
            return float(times.user + times.system)

        postgres = 0.0
        if self.postgres_data is not None:
            pid = int((self.postgres_data / "postmaster.pid").read_text().split()[0])
            postmaster = psutil.Process(pid)
            reaped = postmaster.cpu_times()
            postgres = (seconds(postmaster) + reaped.children_user + reaped.children_system
                        + sum(seconds(p) for p in postmaster.children(recursive=True)))
        return {"server": seconds(psutil.Process(self.server[0].pid)),
                "client": seconds(psutil.Process()), "postgres": postgres}

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> None:
        """Add the CPU used since `start` (call before a killed server's process is gone)."""
        for key, value in self._now().items():
            self.used[key] += max(0.0, value - self._start[key])


async def run_load(
    base: str, voters: int, battles: int, kill: Any, meter: CpuMeter
) -> dict[str, Any]:
    out: dict[str, Any] = {"prepared": 0, "latencies": [], "acked": set(),
                           "committed_unacked": 0, "errors": 0}
    ready = asyncio.Event()
    tasks = [asyncio.create_task(voter(base, battles, ready, out)) for _ in range(voters)]
    while out["prepared"] < voters:
        await asyncio.sleep(0.01)
    out["load"] = os.getloadavg()[0]
    meter.start()
    started = time.perf_counter()
    ready.set()
    if kill is not None:
        while len(out["acked"]) < voters * battles // 2:
            await asyncio.sleep(0.001)
        meter.stop()
        await asyncio.to_thread(kill)
        meter.start()
    await asyncio.gather(*tasks)
    out["seconds"] = time.perf_counter() - started
    meter.stop()
    return out


def measure(db_url: str, label: str, args: argparse.Namespace,
            postgres_data: Path | None = None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = [start(db_url, port)]

    def kill_and_restart() -> None:
        server[0].send_signal(signal.SIGKILL)
        server[0].wait()
        server[0] = start(db_url, port)

    meter = CpuMeter(server, postgres_data)
    try:
        out = asyncio.run(run_load(f"http://127.0.0.1:{port}", args.voters, args.battles,
                                   kill_and_restart if args.kill else None, meter))
    finally:
        server[0].kill()
        server[0].wait()
    engine = make_engine(db_url)
    with engine.connect() as connection:
        stored = {r[0] for r in connection.execute(text("SELECT battle_id FROM votes"))}
    engine.dispose()
    lat = sorted(out["latencies"])
    p50, p99 = lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    lost = len(out["acked"] - stored)
    print(f"{label}{' (killed + restarted)' if args.kill else ''}: "
          f"{len(lat) / out['seconds']:.0f} votes/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"acknowledged {len(out['acked'])}, stored {len(stored)}, lost {lost}, "
          f"committed-but-unacknowledged {out['committed_unacked']}, errors {out['errors']}")
    cpu = meter.used
    print(f"  {out['seconds']:.2f} s of voting, load average {out['load']:.2f} at its start; "
          f"CPU seconds: server {cpu['server']:.2f}, client {cpu['client']:.2f}, "
          f"postgres {cpu['postgres']:.2f} ({cpu['server'] / max(1, len(lat)) * 1000:.2f} ms "
          "of server CPU per vote)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--voters", type=int, default=16)
    parser.add_argument("--battles", type=int, default=40, help="battles per voter")
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--kill", action="store_true", help="SIGKILL + restart the server midway")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            measure(f"sqlite:///{Path(tmp) / 'arena.db'}", "sqlite", args)
        if args.db in ("postgres", "both"):
            import pgserver

            pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
            pg.psql("CREATE DATABASE arena;")
            measure(pg.get_uri("arena"), "postgres", args,  # the app picks psycopg 3
                    Path(tmp) / "pg")
            pg.cleanup()


if __name__ == "__main__":
    main()
