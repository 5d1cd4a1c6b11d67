"""Running the OpenAI-compatible server: in a background thread (tests) or until a signal
(the CLI). The routes live in `routes`: GET /health, GET /v1/models, POST /v1/completions,
POST /v1/chat/completions, GET /lmaudit/stats.

Python API: `build_app(backend, options)`, `start_server_in_thread(backend, port=0, ...)`
returning a `RunningServer` (`url` = `http://host:port/v1`, `stop()`), and
`serve_forever(backend, host, port, options)`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lmaudit.core.backend import Backend
from lmaudit.core.types import LmauditError
from lmaudit.serve.routes import ModelServer, ServerOptions

__all__ = [
    "SERVER_KEY",
    "ModelServer",
    "RunningServer",
    "ServerOptions",
    "build_app",
    "serve_forever",
    "start_server_in_thread",
]

SHUTDOWN_GRACE_S = 1.0  # how long stopping waits for requests still being answered

SERVER_KEY = web.AppKey("server", ModelServer)


def build_app(backend: Backend, options: ServerOptions | None = None) -> web.Application:
    """The aiohttp application serving `backend` (its ModelServer is `app[SERVER_KEY]`)."""
    server = ModelServer(backend, options or ServerOptions())
    app = server.app()
    app[SERVER_KEY] = server
    return app


async def _start(
    app: web.Application, host: str, port: int, idle_timeout_s: float
) -> tuple[web.AppRunner, int]:
    """Listen; a connection idle for `idle_timeout_s` (from its start or its last answer)
    is closed."""
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        keepalive_timeout=idle_timeout_s,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise LmauditError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    bound = runner.addresses[0]
    return runner, int(bound[1])


class RunningServer:
    """A server running in a background thread. `url` is the OpenAI base URL
    (`http://host:port/v1`), `origin` the root (`http://host:port`)."""

    def __init__(
        self,
        server: ModelServer,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        stopped: asyncio.Event,
    ) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.origin = f"http://{host}:{port}"
        self.url = f"{self.origin}/v1"
        self._loop = loop
        self._thread = thread
        self._stopped = stopped

    def stats(self) -> dict[str, Any]:
        """A snapshot of /lmaudit/stats, read without HTTP."""
        return self.server.stats()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server_in_thread(
    backend: Backend,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> RunningServer:
    """Serve `backend` from a daemon thread; `port=0` picks a free port. `options` are
    ServerOptions fields (served_name, max_batch_size, max_batch_wait_ms, api_key, faults).
    Returns once the server accepts connections."""
    server = ModelServer(backend, ServerOptions(**options))
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stopped = asyncio.Event()
        try:
            runner, bound = await _start(server.app(), host, port, server.options.idle_timeout_s)
        except BaseException as error:
            box["error"] = error
            ready.set()
            return
        box.update(port=bound, loop=asyncio.get_running_loop(), stopped=stopped)
        ready.set()
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="lmaudit-serve", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    return RunningServer(server, host, box["port"], box["loop"], thread, box["stopped"])


def serve_forever(
    backend: Backend,
    host: str,
    port: int,
    options: ServerOptions,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the base URL once listening."""

    async def main() -> None:
        server = ModelServer(backend, options)
        runner, bound = await _start(server.app(), host, port, options.idle_timeout_s)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        if announce is not None:
            announce(f"http://{host}:{bound}/v1")
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
