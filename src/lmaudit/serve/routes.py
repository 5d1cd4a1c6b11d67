"""The routes of the OpenAI-compatible server over one lmaudit backend (aiohttp.web).

Routes: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions and
GET /lmaudit/stats (request, fault and batch counts, for tests). Backend calls run in one
worker thread fed by the micro-batcher (`batching`); prompt log-probabilities for `echo` and
`logprobs` come from `echo`; `faults` injects errors for testing clients. Errors are OpenAI
JSON bodies (`schema.ApiError`): 400 invalid body or field, 401 bad API key, 404 unknown
model or route, 408 body not received in time, 500 backend failure (its details are logged
on the server, never sent). With an API key, every route but /health needs
`Authorization: Bearer <key>` (the scheme in any case).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from lmaudit.core.backend import Backend
from lmaudit.core.redact import redact
from lmaudit.core.types import GenerateRequest, Generation, GenerationParams, LmauditError
from lmaudit.serve.batching import MicroBatcher
from lmaudit.serve.echo import PromptScorer, ScoredText, has_chat_template, openai_logprobs
from lmaudit.serve.echo import scorer_for as find_scorer
from lmaudit.serve.faults import FAULT_HEADER, FaultInjector, FaultPlan, truncated_json
from lmaudit.serve.schema import (
    ApiError,
    Choice,
    Limits,
    chat_response,
    completion_response,
    models_response,
    parse_chat,
    parse_completion,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """How a backend is served. `max_batch_wait_ms`: how long the first request of a batch
    waits for others; `api_key`: required as `Authorization: Bearer <key>` on every route
    but /health; `idle_timeout_s`: an open connection that sends nothing (or a body that
    does not arrive) for this long is closed (408 for a body); `max_prompts_per_request`:
    the most prompts one completions request may list."""

    served_name: str = "model"
    max_batch_size: int = 16
    max_batch_wait_ms: float = 5.0
    api_key: str | None = None
    faults: FaultPlan | None = None
    idle_timeout_s: float = 30.0
    max_prompts_per_request: int = 256


@dataclass
class RequestCounts:
    """Inference requests (POST /v1/completions, /v1/chat/completions) past the key check."""

    requests_received: int = 0
    requests_completed: int = 0  # answered 200 with no injected fault
    requests_failed: int = 0  # answered with an error that was not injected
    in_flight: int = 0
    max_in_flight: int = 0


@dataclass
class ModelServer:
    """The routes of one served backend and their state (used on one event loop)."""

    backend: Backend
    options: ServerOptions = field(default_factory=ServerOptions)

    def __post_init__(self) -> None:
        self.scorer: PromptScorer | None = find_scorer(
            self.backend, batch_size=self.options.max_batch_size
        )
        self.batcher = MicroBatcher(
            self._run_batch,
            max_batch_size=self.options.max_batch_size,
            max_wait_s=self.options.max_batch_wait_ms / 1000.0,
        )
        self.faults = FaultInjector(self.options.faults)
        self.counts = RequestCounts()
        context = getattr(self.backend, "max_length", None)
        self.limits = Limits(
            context=context if isinstance(context, int) and context > 0 else None,
            max_prompts=self.options.max_prompts_per_request,
        )

    # -- backend calls (worker thread) --------------------------------------------------------

    def _run_batch(self, key: Hashable, items: Sequence[Any]) -> Sequence[Any]:
        kind = key[0] if isinstance(key, tuple) else key
        if kind == "generate":
            return self.backend.generate(list(items))
        scorer = self.scorer
        assert scorer is not None, "scoring requests are refused without a scorer"
        if kind == "score":
            assert isinstance(key, tuple)
            return scorer.score_texts(list(items), int(key[1]))
        if kind == "count":
            return scorer.count_tokens(list(items))
        raise ValueError(f"unknown batch kind {kind!r}")

    async def _submit(self, key: Hashable, item: Any) -> Any:
        try:
            return await self.batcher.submit(key, item)
        except LmauditError as error:
            raise ApiError(400, str(error), code="backend_refused") from error

    # -- answers -----------------------------------------------------------------------------

    def _check_model(self, model: str) -> None:
        if model != self.options.served_name:
            raise ApiError(
                404,
                f"the model `{model}` does not exist; this server serves "
                f"`{self.options.served_name}`",
                code="model_not_found",
                param="model",
            )

    async def _complete_one(
        self, prompt: str, params: GenerationParams, echo: bool, top_k: int | None
    ) -> Choice:
        text, finish, completion_tokens = "", "length", 0
        prompt_tokens: int | None = None
        if params.max_tokens > 0:
            generated: Generation = await self._submit(
                ("generate", params), GenerateRequest(prompt=prompt, params=params)
            )
            text, finish = generated.text, generated.finish_reason
            prompt_tokens, completion_tokens = generated.prompt_tokens, generated.completion_tokens
        logprobs = None
        if top_k is not None:
            scored: ScoredText = await self._submit(("score", top_k), (prompt, text))
            logprobs = openai_logprobs(scored, first=0 if echo else scored.prompt_tokens)
            if prompt_tokens is None:
                prompt_tokens = scored.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = await self._submit(("count",), prompt) if self.scorer else 0
        return Choice(
            prompt + text if echo else text, finish, prompt_tokens, completion_tokens, logprobs
        )

    async def _completions(self, body: Any) -> dict[str, Any]:
        call = parse_completion(body, self.limits)
        self._check_model(call.model)
        if call.logprobs is not None and self.scorer is None:
            raise ApiError(
                400,
                f"echo/logprobs is not supported by this backend ({type(self.backend).__name__}"
                "): it exposes no prompt log-probabilities",
                code="logprobs_not_supported",
                param="logprobs",
            )
        choices = await asyncio.gather(
            *(self._complete_one(p, call.params, call.echo, call.logprobs) for p in call.prompts)
        )
        return completion_response(self.options.served_name, choices)

    async def _chat(self, body: Any) -> dict[str, Any]:
        call = parse_chat(body, self.limits)
        self._check_model(call.model)
        if has_chat_template(self.backend) is False:
            raise ApiError(
                400,
                f"model `{self.options.served_name}` has no chat template, so it cannot answer "
                "/v1/chat/completions; send a plain prompt to /v1/completions instead",
                code="no_chat_template",
                param="messages",
            )
        generated: Generation = await self._submit(
            ("generate", call.params), GenerateRequest(messages=call.messages, params=call.params)
        )
        return chat_response(
            self.options.served_name,
            Choice(
                generated.text,
                generated.finish_reason,
                generated.prompt_tokens,
                generated.completion_tokens,
            ),
        )

    # -- HTTP --------------------------------------------------------------------------------

    def _fault_response(self, kind: str) -> web.Response:
        headers = {FAULT_HEADER: kind}
        if kind == "429":
            plan = self.faults.plan
            headers["Retry-After"] = str(plan.retry_after_s if plan else 1)
            error = ApiError(
                429,
                "rate limit reached (injected fault)",
                type="rate_limit_error",
                code="rate_limit_exceeded",
            )
            return web.json_response(error.body(), status=429, headers=headers)
        if kind == "500":
            error = ApiError(500, "internal server error (injected fault)", type="server_error")
            return web.json_response(error.body(), status=500, headers=headers)
        whole = json.dumps(
            completion_response(self.options.served_name, [Choice("", "length", 0, 0)])
        ).encode("utf-8")
        return web.Response(
            body=truncated_json(whole), content_type="application/json", headers=headers
        )

    async def _inference(
        self, request: web.Request, answer: Callable[[Any], Awaitable[dict[str, Any]]]
    ) -> web.Response:
        counts = self.counts
        counts.requests_received += 1
        counts.in_flight += 1
        counts.max_in_flight = max(counts.max_in_flight, counts.in_flight)
        try:
            fault = self.faults.draw()
            if fault in ("429", "500", "malformed"):
                return self._fault_response(fault)
            if fault == "stall":
                plan = self.faults.plan
                await asyncio.sleep(plan.stall_s if plan else 0.0)
            try:
                payload = await answer(await _json_body(request, self.options.idle_timeout_s))
            except Exception:
                if fault is None:
                    counts.requests_failed += 1
                raise
            headers = {FAULT_HEADER: fault} if fault else None
            if fault is None:
                counts.requests_completed += 1
            return web.json_response(payload, headers=headers)
        finally:
            counts.in_flight -= 1

    async def completions(self, request: web.Request) -> web.Response:
        return await self._inference(request, self._completions)

    async def chat_completions(self, request: web.Request) -> web.Response:
        return await self._inference(request, self._chat)

    async def models(self, request: web.Request) -> web.Response:
        """The served name's entry. `created` is the time of the answer (as in vLLM: when
        the server started says nothing about the model); `root` is the backend's
        fingerprint, so a client can tell two models served under one name apart (its cache
        keys depend on it); `max_model_len` is the context in tokens when known."""
        body = models_response(self.options.served_name, int(time.time()))
        entry = body["data"][0]
        entry["root"] = redact(self.backend.fingerprint.key())
        if self.limits.context is not None:
            entry["max_model_len"] = self.limits.context
        return web.json_response(body)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def stats(self) -> dict[str, Any]:
        """Request counts, injected faults by kind and micro-batching counts."""
        batches = self.batcher.counters
        return {
            **asdict(self.counts),
            "faults_injected": dict(self.faults.injected),
            "backend_calls": batches.calls,
            "backend_items": batches.items,
            "largest_batch": batches.largest,
        }

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    @web.middleware
    async def _api_key(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = self.options.api_key
        if key and request.path != "/health":
            scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
            right = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("utf-8", "surrogateescape"), key.encode("utf-8")
            )
            if not right:
                raise ApiError(
                    401,
                    "invalid or missing API key: send the header `Authorization: Bearer <key>`",
                    code="invalid_api_key",
                )
        response: web.StreamResponse = await handler(request)
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors_as_json, self._api_key])
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/lmaudit/stats", self.stats_view)

        async def close_batcher(_: web.Application) -> None:
            await self.batcher.close()

        app.on_cleanup.append(close_batcher)
        return app


async def _json_body(request: web.Request, timeout_s: float) -> Any:
    """The decoded JSON body: 408 when it does not arrive within `timeout_s`, 400 when it
    is not UTF-8 JSON (nesting too deep and integers over 4,300 digits included)."""
    try:
        raw = await asyncio.wait_for(request.read(), timeout_s)
    except TimeoutError as error:
        raise ApiError(408, f"the request body did not arrive within {timeout_s:g} s") from error
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        message = f"the request body is not valid JSON: {str(error)[:200]}"
        raise ApiError(400, message, code="invalid_json") from error
    except RecursionError as error:
        raise ApiError(400, "the request body nests too deep", code="invalid_json") from error


@web.middleware
async def _errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error as an OpenAI-style JSON body."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as error:
        return web.json_response(error.body(), status=error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        body = ApiError(
            error.status, f"{error.reason}: {request.method} {request.path}", code=None
        ).body()
        return web.json_response(body, status=error.status)
    except LmauditError as error:
        return web.json_response(ApiError(400, str(error)).body(), status=400)
    except ConnectionResetError:
        # the client gave up (e.g. its timeout ran out during a stall): nobody to answer
        logger.debug("client of %s %s went away", request.method, request.path)
        return web.Response(status=499)  # "client closed request"; nobody reads it
    except Exception:
        logger.exception("request %s %s failed", request.method, request.path)
        message = "internal server error (the details are in the server's log)"
        body = ApiError(500, message, type="server_error").body()
        return web.json_response(body, status=500)
