"""A deterministic OpenAI-compatible server for tests (aiohttp.web on 127.0.0.1, own thread).

Tokens are regex pieces that cover the text exactly (`tokenize`); the log-prob of a token is
a hash of (previous token, token) (`token_logprob`), so a test can compute every expected
value by hand. Completions: an "a + b =" prompt is answered " <a+b>", anything else with a
hashed word. Fault injection: a fraction of arrivals is answered with 429 (+ Retry-After),
500, a malformed body or a stall, chosen by a hash of (body, attempt number at this server),
so a retried request eventually succeeds and a run is reproducible.

A completions `prompt` may be a list of strings (one choice per prompt, `index` = its
position, `usage` the sums over the prompts), unless `accept_lists=False` (then a list is
answered 400, as by servers that take one prompt per request). Quirks for client tests:
`reverse_choices` returns the choices in reverse order, `drop_last_choice` leaves out the
last choice of a list answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
BOS = "<s>"
WORDS = ("apple", "river", "stone", "cloud", "ember", "maple", "orbit", "quartz")
FAULT_KINDS = ("429", "500", "malformed", "stall")


def tokenize(text: str) -> list[str]:
    """Word/punctuation pieces with their leading whitespace; `"".join(...) == text`."""
    return TOKEN.findall(text)


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def token_logprob(previous: str, token: str) -> float:
    """log p(token | previous token), in [-8.05, -0.05] nats."""
    return -(0.05 + (stable_hash(previous + "\x1f" + token) % 8000) / 1000.0)


def is_top_token(previous: str, token: str) -> bool:
    """Whether `token` is the argmax after `previous` (one position in three)."""
    return stable_hash("top\x1f" + previous + "\x1f" + token) % 3 == 0


def top_logprobs(previous: str, token: str) -> dict[str, float]:
    """What `logprobs=1` returns at a position: the token itself plus the top-1 token."""
    value = token_logprob(previous, token)
    return {token: value} if is_top_token(previous, token) else {token: value, "<alt>": value / 2}


def completion_for(prompt: str, temperature: float = 0.0, seed: int | None = None) -> str:
    """The full answer before max_tokens/stop: the sum for "a + b =", else a hashed word."""
    sums = re.findall(r"(\d+)\s*\+\s*(\d+)\s*=", prompt)
    if sums:
        a, b = sums[-1]
        return f" {int(a) + int(b)}\n\nQ: more"
    salt = "" if temperature <= 0 else f"/{seed}"
    return " " + WORDS[stable_hash(prompt + salt) % len(WORDS)] + " and more words"


def cut(text: str, max_tokens: int, stop: list[str]) -> tuple[str, str, int]:
    """(text, finish_reason, completion tokens) after stop sequences and max_tokens."""
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
    pieces = tokenize(text)
    if len(pieces) > max_tokens:
        return "".join(pieces[:max_tokens]), "length", max_tokens
    return text, "stop", len(pieces)


def echo_logprobs(prompt: str, bos: bool) -> dict[str, Any]:
    tokens = ([BOS] if bos else []) + tokenize(prompt)
    offsets: list[int] = []
    values: list[float | None] = []
    tops: list[dict[str, float] | None] = []
    position = 0
    for i, token in enumerate(tokens):
        offsets.append(position)
        position += len(token)
        if i == 0:
            values.append(None)
            tops.append(None)
        else:
            values.append(token_logprob(tokens[i - 1], token))
            tops.append(top_logprobs(tokens[i - 1], token))
    return {
        "tokens": tokens,
        "text_offset": offsets,
        "token_logprobs": values,
        "top_logprobs": tops,
    }


@dataclass
class FakeOpenAIServer:
    """Configuration (fields) and, once started, what the server saw."""

    api_key: str | None = None
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    retry_after: str = "0"
    stall_s: float = 2.0
    fail_first: int = 0  # answer the first N arrivals of every body with 429
    delay_s: float = 0.0
    bos: bool = False
    echo_supported: bool = True
    echo_generates: bool = False
    status: int | None = None  # answer everything with this status
    slow_marker: str = "SLOW"  # bodies containing it are answered after slow_s seconds
    slow_s: float = 5.0
    reject_marker: str = "REJECT"  # bodies containing it are answered with 422
    accept_lists: bool = True
    reverse_choices: bool = False
    drop_last_choice: bool = False
    # observations
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    completed: int = 0
    cancelled: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    authorization: list[str | None] = field(default_factory=list)
    paths: Counter[str] = field(default_factory=Counter)
    faults_sent: Counter[str] = field(default_factory=Counter)
    prompts_per_arrival: list[int] = field(default_factory=list)  # 1 for a string prompt
    # GET /v1/models: the entry of every served name (None: the route answers 404);
    # `system_fingerprint` is sent in every answer when set
    models: dict[str, dict[str, Any]] | None = field(default_factory=dict)
    system_fingerprint: str | None = None
    model_list_requests: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._attempts: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests_received(self) -> int:
        return len(self.arrivals)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="fake-openai")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- handling -----------------------------------------------------------------------------

    def model_entry(self, name: str) -> dict[str, Any]:
        """The `/v1/models` entry of `name` (default: id, object, owned_by "fake")."""
        assert self.models is not None
        return {"id": name, "object": "model", "owned_by": "fake", **self.models.get(name, {})}

    async def _models(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models: not an arrival; checks the key like every route."""
        self.model_list_requests += 1
        wrong_key = request.headers.get("Authorization") != f"Bearer {self.api_key}"
        if self.api_key is not None and wrong_key:
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if self.models is None:
            return web.json_response({"error": {"message": "no such route"}}, status=404)
        names = set(self.models) | {"fake"}
        data = [self.model_entry(name) for name in sorted(names)]
        return web.json_response({"object": "list", "data": data})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        key = hashlib.sha256(raw).hexdigest()
        self.arrivals.append((time.monotonic(), key))
        self.authorization.append(request.headers.get("Authorization"))
        self.paths[request.path] += 1
        attempt = self._attempts[key]
        self._attempts[key] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request, raw, key, attempt)
            self.completed += 1
            return response
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    def _fault(self, key: str, attempt: int) -> str | None:
        if attempt < self.fail_first:
            return "429"
        if self.fault_rate <= 0:
            return None
        draw = stable_hash(f"{key}:{attempt}")
        if (draw % 10_000) / 10_000 >= self.fault_rate:
            return None
        return self.faults[(draw // 10_000) % len(self.faults)]

    async def _answer(
        self, request: web.Request, raw: bytes, key: str, attempt: int
    ) -> web.Response:
        if self.api_key is not None:
            given = request.headers.get("Authorization", "")
            if given != f"Bearer {self.api_key}":
                shown = given.removeprefix("Bearer ")
                return web.json_response(
                    {"error": {"message": f"Incorrect API key provided: {shown}"}}, status=401
                )
        if self.status is not None:
            return web.json_response(
                {"object": "error", "message": f"status {self.status} for every request"},
                status=self.status,
            )
        if self.reject_marker.encode() in raw:
            return web.json_response(
                {"object": "error", "message": "prompt rejected by policy"}, status=422
            )
        fault = self._fault(key, attempt)
        if fault is not None:
            self.faults_sent[fault] += 1
            if fault == "429":
                return web.json_response(
                    {"error": {"message": "rate limited"}},
                    status=429,
                    headers={"Retry-After": self.retry_after},
                )
            if fault == "500":
                return web.Response(status=500, text="internal error")
            if fault == "malformed":
                return web.Response(text='{"choices": [', content_type="application/json")
            await asyncio.sleep(self.stall_s)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.slow_marker.encode() in raw:
            await asyncio.sleep(self.slow_s)
        body = json.loads(raw)
        if request.path.endswith("/chat/completions"):
            return web.json_response(self._stamped(self._chat(body)))
        prompt = body["prompt"]
        self.prompts_per_arrival.append(len(prompt) if isinstance(prompt, list) else 1)
        if isinstance(prompt, list) and not self.accept_lists:
            return web.json_response(
                {"error": {"message": "'prompt' must be a string", "type": "invalid_request"}},
                status=400,
            )
        if isinstance(prompt, str):
            choice, n_prompt, n_generated = self._completion(body, prompt)
            body_out = self._completion_body([{"index": 0, **choice}], n_prompt, n_generated)
            return web.json_response(self._stamped(body_out))
        answers = [self._completion(body, one) for one in prompt]
        choices = [{"index": i, **choice} for i, (choice, _, _) in enumerate(answers)]
        if self.reverse_choices:
            choices.reverse()
        if self.drop_last_choice:
            choices = choices[:-1]
        n_prompt = sum(n for _, n, _ in answers)
        return web.json_response(
            self._stamped(self._completion_body(choices, n_prompt, sum(n for _, _, n in answers)))
        )

    def _stamped(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body with `system_fingerprint` when the server has one."""
        if self.system_fingerprint is not None:
            body["system_fingerprint"] = self.system_fingerprint
        return body

    @staticmethod
    def _completion_body(
        choices: list[dict[str, Any]], n_prompt: int, n_generated: int
    ) -> dict[str, Any]:
        return {
            "object": "text_completion",
            "choices": choices,
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_generated},
        }

    def _completion(self, body: dict[str, Any], prompt: str) -> tuple[dict[str, Any], int, int]:
        """(choice without index, prompt tokens, completion tokens) for one prompt."""
        max_tokens = int(body.get("max_tokens", 16))
        if body.get("echo"):
            if self.echo_generates:
                max_tokens = max(max_tokens, 1)
            logprobs = echo_logprobs(prompt, self.bos) if self.echo_supported else None
            n_prompt = len(tokenize(prompt)) + int(self.bos)
            text, n_generated = prompt, 0
            if max_tokens > 0 and logprobs is not None:
                generated = " extra"
                text += generated
                logprobs["tokens"].append(generated)
                logprobs["text_offset"].append(sum(len(t) for t in logprobs["tokens"][:-1]))
                logprobs["token_logprobs"].append(-1.0)
                logprobs["top_logprobs"].append({generated: -1.0})
                n_generated = 1
            choice = {"text": text, "logprobs": logprobs, "finish_reason": "length"}
            return choice, n_prompt, n_generated
        full = completion_for(prompt, float(body.get("temperature", 0)), body.get("seed"))
        text, finish, n_generated = cut(full, max_tokens, list(body.get("stop") or []))
        choice = {"text": text, "logprobs": None, "finish_reason": finish}
        return choice, len(tokenize(prompt)), n_generated

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = "\n".join(f"{m['role']}: {m['content']}" for m in body["messages"])
        full = completion_for(prompt, float(body.get("temperature", 0)), body.get("seed"))
        text, finish, n_generated = cut(
            full.lstrip(), int(body.get("max_tokens", 16)), list(body.get("stop") or [])
        )
        return {
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": len(tokenize(prompt)), "completion_tokens": n_generated},
        }
