"""How the arena app is served: uvicorn, one process, settings chosen for safety and speed.

`lmaudit arena serve` and `bench/arena_load.py` both call `serve`, so the benchmark measures
the server users run. One process, because the rate limits are kept in its memory (several
workers would each grant the full allowance). uvicorn's own proxy-header handling is off: it
would trust `X-Forwarded-For` from 127.0.0.1 by default, while the app trusts the header only
from the proxies given to `--trust-proxy`. The event loop and HTTP parser are uvicorn's
"auto" choice: uvloop and httptools (in the `app` extra) when installed, else asyncio and h11.
"""

from __future__ import annotations

import gc
from typing import Any


def serve(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    """Serve `app` on host:port until interrupted (no access log; errors still logged)."""
    import uvicorn

    gc.collect()
    gc.freeze()  # the app's long-lived objects leave the collector's generations: shorter pauses
    uvicorn.run(
        app, host=host, port=port, log_level=log_level, access_log=False, proxy_headers=False,
        server_header=False,
    )
