"""Which model an OpenAI-compatible server serves under a name: its `GET /models` entry.

A served name says little (restart a server with other weights under the same name and the
name stays), so API answers are cached under what the server says about the model: its
entry in `GET BASE_URL/models` (`id`, `created`, `owned_by`, `root`, `max_model_len`, any
other field). Two parts of an entry describe the request rather than the model and are
left out of the identity:

* `permission` (vLLM: a list with fresh random ids on every call);
* `created` when it is within `CLOCK_WINDOW_S` of the time of the answer (the server's
  `Date` header, else the client's clock): vLLM and `lmaudit serve` stamp the time of the
  request. A `created` from the past (OpenAI: when the model was made) is kept.

The call is authenticated like every request, so a wrong API key is noticed at start even
when every answer would come from the cache. See `OpenAIBackend.identify`.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from lmaudit.backends.openai_http import Failure, HttpEngine
from lmaudit.backends.openai_pacing import Endpoint
from lmaudit.core.types import LmauditError

logger = logging.getLogger(__name__)

MODELS_PATH = "/models"
CLOCK_WINDOW_S = 120.0
_VOLATILE = frozenset({"permission"})
_REFUSED_KEY = frozenset({"401", "403"})


def stable_entry(entry: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The entry without the fields that change from call to call (see the module doc)."""
    stable = {k: v for k, v in entry.items() if k not in _VOLATILE}
    created = stable.get("created")
    if isinstance(created, int | float) and abs(created - now) <= CLOCK_WINDOW_S:
        del stable["created"]
    return stable


def identity_digest(entry: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over the entry as canonical JSON (sorted keys)."""
    text = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def answer_time(date_header: str | None) -> float:
    """The server's `Date` (Unix seconds) when it sends a readable one, else the local clock."""
    if date_header:
        try:
            return email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return time.time()


async def _get_json(engine: HttpEngine, endpoint: Endpoint, path: str) -> Any:
    """GET `path`, retried like any request: (decoded body, answer time), or the final
    `Failure`."""
    where = endpoint.display + path
    retry = 0
    while True:
        outcome = await engine.exchange(endpoint, "GET", path)
        failure: Failure
        if isinstance(outcome, Failure):
            failure = outcome
        else:
            status, raw, headers, _ = outcome
            if 200 <= status < 300:
                try:
                    return json.loads(raw), answer_time(headers.get("Date"))
                except (ValueError, RecursionError):
                    failure = Failure("malformed", f"malformed response from {where}", True)
            else:
                failure = engine.status_failure(where, status, raw, headers.get("Retry-After"))
        retry += 1
        if not failure.retryable or retry > engine.policy.max_retries:
            return failure
        await asyncio.sleep(engine.delay(failure, retry))


def served_entry(engine: HttpEngine, endpoint: Endpoint, model: str) -> dict[str, Any] | None:
    """The stable `/models` entry of `model` at `endpoint`; None when the server lists no
    models or not this one (a warning says so). A refused key is an `LmauditError`, and so
    is a server that cannot be reached after the retries."""
    outcome = engine.call(lambda: _get_json(engine, endpoint, MODELS_PATH))
    where = endpoint.display + MODELS_PATH
    if isinstance(outcome, Failure):
        if outcome.kind in _REFUSED_KEY:
            raise LmauditError(
                f"the server refused the API key (checked at start with GET {where}): "
                f"{outcome.message}"
            )
        if outcome.retryable:
            raise LmauditError(f"cannot ask {where} which model it serves: {outcome.message}")
        logger.warning(
            "%s answered %s: the served model cannot be identified, so its answers are "
            "not cached",
            where,
            outcome.kind,
        )
        return None
    body, now = outcome
    data = body.get("data") if isinstance(body, Mapping) else None
    for entry in data if isinstance(data, list) else ():
        if isinstance(entry, Mapping) and entry.get("id") == model:
            return stable_entry(entry, now)
    logger.warning(
        "%s does not list the model %r: it cannot be identified, so its answers are not cached",
        where,
        model,
    )
    return None
