"""The async request engine of the OpenAI-compatible backend.

One asyncio event loop and one aiohttp `ClientSession` (keep-alive pool sized to the
concurrency) live for the backend's lifetime. The loop runs on a private worker thread, and
only while the caller waits for the next answers: `admit` is asked (on that thread) while the
caller is blocked, so caller and engine never run at the same time. This also works when the
caller's own thread already runs an event loop (Jupyter).

Packs: `stream` sends jobs, each answering a pack of request indices (one index unless
prompts are packed, see `openai_packing`); retries and faults apply to the whole pack.

Concurrency: at most `max_concurrency` HTTP requests in flight under an AIMD limit that 429/503
answers halve and successes grow back (`openai_pacing`).

Retries: 429, 408, 425, 5xx, connection errors, timeouts and malformed bodies are retried
up to `max_retries` times with full-jitter exponential back-off, `uniform(0, min(backoff_max,
backoff_base * 2**(k-1)))` seconds before retry k; a `Retry-After` header (seconds or HTTP
date, capped at 10 minutes) replaces the back-off. Any other 4xx fails at once.
Several endpoints: each request goes to the endpoint with the fewest outstanding requests
(ties in turn); an endpoint that failed (connection error, timeout, 5xx) is avoided for an
exponentially growing cool-down, and a failed request is retried on another endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp

from lmaudit.backends.openai_pacing import AdaptiveLimit, Endpoint, EndpointPool, RetryPolicy
from lmaudit.backends.openai_protocol import MalformedResponse, error_detail, retry_after_seconds
from lmaudit.core.redact import redact
from lmaudit.core.types import LmauditError, Response

logger = logging.getLogger(__name__)
# failure kinds announced once per stream when first retried (throttling is routine: silent)
_ANNOUNCED = frozenset({"connection", "timeout", "malformed", "500", "502", "503", "504"})

RETRY_STATUSES = frozenset({408, 425, 429})
THROTTLE_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER_S = 600.0

# parse(payload, latency_s, server) -> one response per index of the pack, in pack order;
# MalformedResponse etc. mean "retry".
Parser = Callable[[Any, float, str], Sequence[Response]]
# Failures of these kinds may come from packing prompts (a server refusing prompt lists).
_PACK_SUSPECT = frozenset({"400", "413", "422", "malformed"})


@dataclass(frozen=True, slots=True)
class HttpJob:
    """One HTTP request: the path under the base URL, the JSON body, how to read the answer,
    and a hint added to its final error when it was a 400/413/422, 5xx or malformed body."""

    path: str
    body: bytes
    parse: Parser
    hint: str = ""

    def explain(self, failure: Failure) -> str:
        suspect = failure.kind in _PACK_SUSPECT or failure.kind.startswith("5")
        return f"{failure.message}; {self.hint}" if self.hint and suspect else failure.message


_KEPT_HEADERS = frozenset({"Retry-After", "Date"})


class Exchange(NamedTuple):
    """One HTTP answer: status, body, the headers lmaudit reads (Retry-After, Date) and the
    latency in seconds."""

    status: int
    body: bytes
    headers: dict[str, str]
    latency_s: float


class Failure(NamedTuple):
    """One failed attempt, already phrased for the user (without credentials)."""

    kind: str  # "timeout", "connection", "malformed" or the HTTP status
    message: str
    retryable: bool
    throttled: bool = False
    endpoint_fault: bool = False
    retry_after: float | None = None


class HttpEngine:
    """Sends HttpJobs concurrently; `stream` yields (index, response) as answers arrive."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        headers: dict[str, str],
        max_concurrency: int = 32,
        policy: RetryPolicy | None = None,
        secrets: Sequence[str] = (),
        seed: int | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.pool = EndpointPool(endpoints, self.policy)
        self.limit = AdaptiveLimit(max_concurrency)
        self._headers = headers
        self._secrets = [s for s in secrets if s]
        self._rng = random.Random(seed)
        self._timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"HttpEngine({[e.display for e in self.pool.endpoints]})"

    # -- the synchronous face -------------------------------------------------------------

    def stream(
        self,
        packs: Sequence[Sequence[int]],
        make_job: Callable[[Sequence[int]], HttpJob],
        admit: Callable[[int], bool] | None = None,
    ) -> Generator[tuple[int, Response], None, None]:
        """Send one job per pack, in order, and yield `(index, response)` as answers arrive.

        Before a pack is sent, `admit(i)` is asked for each of its indices in turn; at the
        first refusal the admitted part of the pack is sent (`make_job` gets that part) and
        nothing more. Closing the iterator early cancels what is in flight. The first job
        that fails for good stops further sends and retries; the answers of attempts
        already in flight are still yielded, then its `LmauditError` is raised.
        """
        if not packs:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="lmaudit-openai")
        executor = self._executor
        run = _Run(self, packs, make_job, admit)
        finished = False
        try:
            while True:
                batch = executor.submit(self._run_step, run.next_batch).result()
                if batch is None:
                    finished = True
                    return
                yield from batch
        finally:
            if not finished:
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(run.abort)
                executor.submit(self._run_step, run.cancel).result()

    def close(self) -> None:
        """Close the session and the loop; a later `stream` starts fresh ones."""
        if self._executor is None:
            return
        try:
            self._executor.submit(self._close_in_worker).result()
        except RuntimeError:  # interpreter shutdown: the worker is gone, the loop is idle
            self._close_in_worker()
        self._executor.shutdown(wait=True)
        self._executor = None

    # -- on the worker thread ---------------------------------------------------------------

    def _run_step(self, step: Callable[[], Any]) -> Any:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(step())

    def _close_in_worker(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        if self._session is not None:
            self._loop.run_until_complete(self._session.close())
            self._session = None
        self._loop.close()

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.limit.maximum + 8, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                headers=self._headers, connector=connector, timeout=self._timeout
            )
        return self._session

    def scrub(self, text: str) -> str:
        """`text` without the secrets (API key, URL passwords) and URL credentials."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact(text)

    async def exchange(
        self, endpoint: Endpoint, method: str, path: str, body: bytes | None = None
    ) -> Exchange | Failure:
        """One HTTP exchange, or the transport failure that prevented it."""
        where = endpoint.display + path
        endpoint.outstanding += 1
        start = time.perf_counter()
        try:
            async with self.session().request(method, endpoint.url(path), data=body) as reply:
                status = reply.status
                raw = await reply.read()
                headers = {k: reply.headers[k] for k in _KEPT_HEADERS if k in reply.headers}
        except TimeoutError:
            self.pool.failed(endpoint)
            message = f"no answer within {self.policy.timeout:g} s from {where}"
            return Failure("timeout", message, True, False, True)
        except aiohttp.ClientError as exc:
            self.pool.failed(endpoint)
            detail = self.scrub(" ".join(str(exc).split())) or type(exc).__name__
            return Failure(
                "connection", f"connection error to {where}: {detail}", True, False, True
            )
        finally:
            endpoint.outstanding -= 1
        return Exchange(status, raw, headers, time.perf_counter() - start)

    def status_failure(
        self, where: str, status: int, raw: bytes, retry_after: str | None
    ) -> Failure:
        """A non-2xx answer, classified (retryable, throttled, endpoint fault, Retry-After)."""
        message = f"{status} from {where}: {self.scrub(error_detail(raw))}"
        if status in RETRY_STATUSES or status >= 500:
            wait = retry_after_seconds(retry_after, time.time())
            return Failure(
                str(status),
                message,
                True,
                status in THROTTLE_STATUSES,
                status >= 500,
                None if wait is None else min(wait, MAX_RETRY_AFTER_S),
            )
        return Failure(str(status), message, False)

    async def attempt(self, endpoint: Endpoint, job: HttpJob) -> Sequence[Response] | Failure:
        """Send one request to one endpoint; its responses or a classified failure."""
        where = endpoint.display + job.path
        outcome = await self.exchange(endpoint, "POST", job.path, job.body)
        if isinstance(outcome, Failure):
            return outcome
        status, raw, headers, latency = outcome
        if 200 <= status < 300:
            try:
                result = job.parse(json.loads(raw), latency, endpoint.display)
            except (MalformedResponse, ValueError, KeyError, TypeError, IndexError) as exc:
                detail = self.scrub(str(exc)) if isinstance(exc, MalformedResponse) else "bad JSON"
                return Failure("malformed", f"malformed response from {where}: {detail}", True)
            self.pool.succeeded(endpoint)
            return result
        if status >= 500:
            self.pool.failed(endpoint)
        return self.status_failure(where, status, raw, headers.get("Retry-After"))

    def call(self, step: Callable[[], Any]) -> Any:
        """Run the coroutine `step()` on the engine's loop and wait for its result."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="lmaudit-openai")
        return self._executor.submit(self._run_step, step).result()

    def delay(self, failure: Failure, retry: int) -> float:
        if failure.retry_after is not None:
            return failure.retry_after + self._rng.uniform(0.0, 0.1 * self.policy.backoff_base)
        return self.policy.backoff(retry, self._rng)


class _Run:
    """The state of one `stream` call (loop thread only)."""

    def __init__(
        self,
        engine: HttpEngine,
        packs: Sequence[Sequence[int]],
        make_job: Callable[[Sequence[int]], HttpJob],
        admit: Callable[[int], bool] | None,
    ) -> None:
        self.engine = engine
        self.packs = packs
        self.make_job = make_job
        self.admit = admit
        self.ready: list[tuple[int, Response]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.dispatcher: asyncio.Task[None] | None = None
        self.dispatching = True
        self.aborted = False
        self.error: BaseException | None = None
        self.wake = asyncio.Event()
        self.stop = asyncio.Event()
        self.retries: Counter[str] = Counter()

    async def next_batch(self) -> list[tuple[int, Response]] | None:
        """Wait for answers; None once everything sent is answered (or raise the failure)."""
        if self.dispatcher is None:
            self.dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        while not self.ready and (self.dispatching or self.tasks) and not self.aborted:
            self.wake.clear()
            await self.wake.wait()
        if self.ready:
            batch, self.ready = self.ready, []
            return batch
        if self.retries:
            counts = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.retries.items()))
            logger.info(
                "retried failed attempts (%s); concurrency limit now %d of %d",
                counts,
                int(self.engine.limit.limit),
                self.engine.limit.maximum,
            )
            self.retries.clear()
        if self.error is not None and not self.aborted:
            raise self.error
        return None

    def abort(self) -> None:
        self.aborted = True
        self.fail(None)

    async def cancel(self) -> None:
        """Cancel the dispatcher and every request in flight, and wait until they are gone."""
        self.aborted = True
        self.fail(None)
        pending = [t for t in (self.dispatcher, *self.tasks) if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def fail(self, error: BaseException | None) -> None:
        """Stop sending and retrying; remember the first error."""
        if self.error is None and error is not None:
            self.error = error
        self.stop.set()
        self.wake.set()

    async def _dispatch(self) -> None:
        limit = self.engine.limit
        admit = self.admit
        try:
            for pack in self.packs:
                granted = await limit.acquire()
                admitted: Sequence[int] = pack
                if admit is not None and not self.stop.is_set():
                    try:
                        admitted = _admitted_prefix(pack, admit)
                    except BaseException:
                        limit.release(granted, None)
                        raise
                if self.stop.is_set() or not admitted:
                    limit.release(granted, None)
                    break
                task = asyncio.get_running_loop().create_task(self._send(admitted, granted))
                self.tasks.add(task)
                task.add_done_callback(self._done)
                if len(admitted) < len(pack):
                    break
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # admit raised: stop and report it
            self.fail(exc)
        finally:
            self.dispatching = False
            self.wake.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.wake.set()

    async def _send(self, pack: Sequence[int], granted: float | None) -> None:
        engine = self.engine
        limit = engine.limit
        try:
            job = self.make_job(pack)
            avoid: Endpoint | None = None
            retry = 0
            while True:
                if granted is None:
                    granted = await limit.acquire()
                outcome: Sequence[Response] | Failure | None = None
                try:
                    if self.stop.is_set():
                        return
                    endpoint = engine.pool.pick(avoid)
                    outcome = await engine.attempt(endpoint, job)
                finally:
                    signal = None
                    if isinstance(outcome, Failure):
                        signal = False if outcome.throttled else None
                    elif outcome is not None:
                        signal = True
                    limit.release(granted, signal)
                    granted = None
                if not isinstance(outcome, Failure):
                    assert outcome is not None and len(outcome) == len(pack)
                    self.ready.extend(zip(pack, outcome, strict=True))
                    self.wake.set()
                    return
                if not outcome.retryable:
                    self.fail(LmauditError(job.explain(outcome)))
                    return
                retry += 1
                self.retries[outcome.kind] += 1
                if self.retries[outcome.kind] == 1 and outcome.kind in _ANNOUNCED:
                    # a dead or overloaded server should not look like a frozen progress bar
                    logger.warning("%s; retrying with back-off", outcome.message)
                if retry > engine.policy.max_retries:
                    message = job.explain(outcome)
                    self.fail(LmauditError(f"request failed after {retry} attempts: {message}"))
                    return
                avoid = endpoint if outcome.endpoint_fault else None
                try:
                    await asyncio.wait_for(self.stop.wait(), engine.delay(outcome, retry))
                    return  # stopped while waiting to retry
                except TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug or a LmauditError from a parser: report it
            self.fail(exc)
        finally:
            if granted is not None:  # only when make_job failed before the first attempt
                limit.release(granted, None)


def _admitted_prefix(pack: Sequence[int], admit: Callable[[int], bool]) -> list[int]:
    """The indices of `pack` up to (not including) the first one `admit` refuses."""
    taken: list[int] = []
    for index in pack:
        if not admit(index):
            break
        taken.append(index)
    return taken
