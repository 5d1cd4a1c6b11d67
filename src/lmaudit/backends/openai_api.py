"""The OpenAI-compatible HTTP backend: vLLM, TGI, llama.cpp, Ollama and hosted APIs.

Specs: `openai:MODEL[@BASE_URL][#ENV_NAME]` (the completions endpoint,
POST BASE_URL/completions: loglikelihood, rolling loglikelihood and generation) and
`openai-chat:MODEL[@BASE_URL][#ENV_NAME]` (POST BASE_URL/chat/completions: generation
only). BASE_URL defaults to https://api.openai.com/v1; the API key is read from the
environment variable ENV_NAME (default OPENAI_API_KEY; when that default is unset no
Authorization header is sent, as local servers need none). The key never appears in
messages, reprs or the fingerprint; credentials in a URL are stripped from what is shown.

Log-prob conventions (nats, the context/continuation split, straddling tokens, the first
token of a text): see `lmaudit.backends.openai_protocol`. Concurrency, retries and several
endpoints: see `lmaudit.backends.openai_http` and `lmaudit.backends.openai_pacing`.
Several prompts per HTTP request (`prompts_per_request` > 1, completions only; the server
must accept a list as `prompt`) and how token usage is then shared among them: see
`lmaudit.backends.openai_packing`.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Generator, Sequence
from typing import Any

from lmaudit.backends.openai_http import HttpEngine, HttpJob
from lmaudit.backends.openai_identity import identity_digest, served_entry
from lmaudit.backends.openai_pacing import Endpoint, RetryPolicy
from lmaudit.backends.openai_packing import (
    LIST_HINT,
    EchoItem,
    parse_echo_pack,
    parse_generation_pack,
    plan_packs,
)
from lmaudit.backends.openai_protocol import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    echo_body,
    encode_body,
    generation_body,
    parse_generation,
    parse_loglikelihood,
    parse_rolling,
    split_prompt,
)
from lmaudit.backends.openai_spec import (
    DEFAULT_BASE_URL,
    DEFAULT_KEY_ENV,
    display_url,
    parse_spec,
)
from lmaudit.core.backend import AdmitCallback, ProgressCallback
from lmaudit.core.redact import secret_values
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)

_ALL_KINDS = frozenset(RequestKind)
_CHAT_KINDS = frozenset({RequestKind.GENERATE})


class OpenAIBackend:
    """A model behind an OpenAI-compatible API, answering requests concurrently.

    `chat=True` uses /chat/completions (generation only); otherwise /completions.
    `endpoints`: base URLs of replicas serving the same model (replacing `base_url` as the
    servers to call; the fingerprint keeps `base_url` when given, else the first endpoint).
    `prefix_text`: text of the model's BOS/EOT token, prepended when the first token of a
    text must be scored (empty contexts, rolling loglikelihood); see `openai_protocol`.
    `prompts_per_request`: prompts packed into one completions request (default 1; N > 1
    needs a server that accepts a list as `prompt`; chat cannot pack); see `openai_packing`.
    Packing does not change answers, so it is not part of the fingerprint.

    Identity: until `identify()` asks the server (`GET /models`, see `openai_identity`) the
    fingerprint's revision is "unknown" and answers are not cached; afterwards it is
    `models:<digest of the model's entry>`, so a different model served under the same
    name gets other cache keys. `system_fingerprint` is the last one a response carried.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        chat: bool = False,
        api_key_env: str | None = None,
        endpoints: Sequence[str] | str | None = None,
        max_concurrency: int = 32,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        prefix_text: str = "",
        prompts_per_request: int = 1,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e.strip()]
        servers = list(endpoints or [base_url or DEFAULT_BASE_URL])
        shown = [display_url(url) for url in servers]
        fingerprint_url = display_url(base_url)[0] if base_url else shown[0][0]
        key = self._read_key(api_key_env)
        if int(max_retries) < 0 or float(timeout) <= 0:
            raise LmauditError("max_retries must be >= 0 and timeout > 0")
        if int(prompts_per_request) < 1:
            raise LmauditError(f"prompts_per_request must be at least 1, got {prompts_per_request}")
        if chat and int(prompts_per_request) > 1:
            raise LmauditError(
                "--prompts-per-request applies to openai: (completions) models only; "
                "chat completions take one conversation per request"
            )
        self.model = model
        self.chat = chat
        self.prefix_text = prefix_text
        self.prompts_per_request = int(prompts_per_request)
        self._kinds = _CHAT_KINDS if chat else _ALL_KINDS
        self._fingerprint = Fingerprint(
            backend="openai-chat" if chat else "openai-completions",
            model=f"{model}@{fingerprint_url}",
            revision="unknown",
            dtype="n/a",
        )
        self.served_model: dict[str, Any] | None = None
        self._identified = False
        self._system_fingerprint: str | None = None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        policy = RetryPolicy(
            int(max_retries), float(timeout), float(backoff_base), float(backoff_max)
        )
        self._engine = HttpEngine(
            [Endpoint(url, display) for url, (display, _) in zip(servers, shown, strict=True)],
            headers=headers,
            max_concurrency=int(max_concurrency),
            policy=policy,
            secrets=[
                key or "",
                *(password or "" for _, password in shown),
                *(value for url in servers for value in secret_values(url)),
            ],
        )
        self._finalizer = weakref.finalize(self, self._engine.close)

    @staticmethod
    def _read_key(env_name: str | None) -> str | None:
        if env_name is None:
            return os.environ.get(DEFAULT_KEY_ENV) or None
        key = os.environ.get(env_name)
        if not key:
            raise LmauditError(
                f"environment variable {env_name} (named in the model spec) is not set"
            )
        return key

    @classmethod
    def from_spec(cls, target: str, *, chat: bool, **options: Any) -> OpenAIBackend:
        """Build from the part of a spec after `openai:`/`openai-chat:`."""
        spec = parse_spec(target)
        return cls(spec.model, spec.base_url, chat=chat, api_key_env=spec.key_env, **options)

    def __repr__(self) -> str:
        servers = [e.display for e in self._engine.pool.endpoints]
        return f"OpenAIBackend(model={self.model!r}, chat={self.chat}, endpoints={servers})"

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return self._kinds

    @property
    def thinking_controls(self) -> frozenset[str]:
        """A server takes a thinking budget and an effort level (`openai_protocol`); it
        cannot extend or lengthen thinking (`core.backend.check_thinking` refuses those)."""
        return frozenset({"budget", "effort"})

    @property
    def fingerprint(self) -> Fingerprint:
        return self._fingerprint

    @property
    def system_fingerprint(self) -> str | None:
        """The `system_fingerprint` of the latest response that carried one."""
        return self._system_fingerprint

    def identify(self) -> Fingerprint:
        """Ask every endpoint which model it serves under the name (one authenticated
        `GET /models` each, once per backend) and key the fingerprint by the answer.

        A refused key or an unreachable server raises `LmauditError`; endpoints that
        disagree too. A server that does not list the model leaves the revision "unknown"
        (not cached) with a warning.
        """
        if self._identified:
            return self._fingerprint
        entries = [
            served_entry(self._engine, endpoint, self.model)
            for endpoint in self._engine.pool.endpoints
        ]
        self._identified = True
        if any(entry is None for entry in entries):
            return self._fingerprint
        first = entries[0]
        for endpoint, entry in zip(self._engine.pool.endpoints, entries, strict=True):
            if entry != first:
                raise LmauditError(
                    f"the endpoints serve different models under the name {self.model!r}: "
                    f"{self._engine.pool.endpoints[0].display} lists {first}, "
                    f"{endpoint.display} lists {entry}"
                )
        assert first is not None
        self.served_model = first
        self._fingerprint = dataclasses.replace(
            self._fingerprint, revision=f"models:{identity_digest(first)}"
        )
        return self._fingerprint

    def _observe(self, payload: Any) -> Any:
        """Note the response's `system_fingerprint` (when a string); return `payload`."""
        if isinstance(payload, dict):
            value = payload.get("system_fingerprint")
            if isinstance(value, str) and value:
                self._system_fingerprint = value
        return payload

    @property
    def endpoint_counts(self) -> dict[str, int]:
        """Successful HTTP answers per endpoint (display URL) so far (a pack is one)."""
        return {e.display: e.served for e in self._engine.pool.endpoints}

    @property
    def endpoint_failures(self) -> dict[str, int]:
        """Failed attempts (connection errors, timeouts, 5xx) per endpoint so far."""
        return {e.display: e.failed for e in self._engine.pool.endpoints}

    @property
    def peak_concurrency(self) -> int:
        """The most requests this backend has had in flight at once."""
        return self._engine.limit.peak

    def close(self) -> None:
        """Close the HTTP session; the backend reopens one if used again."""
        self._engine.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def _check(self, requests: Sequence[Request]) -> None:
        for i, request in enumerate(requests):
            if request.kind not in self._kinds:
                raise LmauditError(
                    f"model {self._fingerprint.key()} does not support {request.kind.value} "
                    f"requests (request {i}); chat endpoints only generate"
                )
            if not self.chat and isinstance(request, GenerateRequest) and request.prompt is None:
                raise LmauditError(
                    f"request {i} has chat messages but {self._fingerprint.key()} is a "
                    "completions endpoint; use an openai-chat: model"
                )

    def _job(self, request: Request) -> HttpJob:
        if isinstance(request, GenerateRequest):
            chat = self.chat
            body = encode_body(generation_body(self.model, request, chat=chat))
            return HttpJob(
                CHAT_PATH if chat else COMPLETIONS_PATH,
                body,
                lambda payload, latency, _server: [
                    parse_generation(self._observe(payload), latency, chat=chat)
                ],
            )
        item = self._echo_item(request)
        parse = parse_rolling if item.rolling else parse_loglikelihood
        return HttpJob(
            COMPLETIONS_PATH,
            encode_body(echo_body(self.model, item.prompt)),
            lambda payload, latency, server: [
                parse(
                    self._observe(payload),
                    latency,
                    prompt=item.prompt,
                    boundary=item.boundary,
                    server=server,
                )
            ],
        )

    def _echo_item(self, request: Request) -> EchoItem:
        if isinstance(request, LoglikelihoodRequest):
            prompt, boundary = split_prompt(request.context, request.continuation, self.prefix_text)
            return EchoItem(prompt, boundary, rolling=False)
        assert isinstance(request, RollingLoglikelihoodRequest)
        return EchoItem(self.prefix_text + request.text, len(self.prefix_text), rolling=True)

    def _pack_job(self, requests: Sequence[Request]) -> HttpJob:
        """One completions request for a pack (one prompt: exactly the unpacked request)."""
        if len(requests) == 1:
            return self._job(requests[0])
        hint = (
            f"this request packed {len(requests)} prompts (prompts_per_request="
            f"{self.prompts_per_request}); {LIST_HINT}"
        )
        first = requests[0]
        if isinstance(first, GenerateRequest):
            prompts = [r.prompt or "" for r in requests if isinstance(r, GenerateRequest)]
            body = generation_body(self.model, first, chat=False)
            body["prompt"] = prompts
            return HttpJob(
                COMPLETIONS_PATH,
                encode_body(body),
                lambda payload, latency, _server: parse_generation_pack(
                    self._observe(payload), latency, prompts
                ),
                hint,
            )
        items = [self._echo_item(r) for r in requests]
        return HttpJob(
            COMPLETIONS_PATH,
            encode_body(echo_body(self.model, [item.prompt for item in items])),
            lambda payload, latency, server: parse_echo_pack(
                self._observe(payload), latency, items, server
            ),
            hint,
        )

    def stream(
        self, requests: Sequence[Request], admit: AdmitCallback | None = None
    ) -> Generator[tuple[int, Response], None, None]:
        """Yield `(index, response)` as answers arrive (see `StreamingBackend.stream`).

        `admit` is called on the backend's I/O thread while the caller waits for answers,
        once per request just before its HTTP request is first sent: in request order when
        `prompts_per_request` is 1, else in pack order (see `openai_packing.plan_packs`).
        """
        self._check(requests)
        index_admit = None if admit is None else (lambda i: admit(requests[i]))
        return self._engine.stream(
            plan_packs(requests, self.prompts_per_request),
            lambda pack: self._pack_job([requests[i] for i in pack]),
            index_admit,
        )

    def _collect(self, requests: Sequence[Request], progress: ProgressCallback | None) -> list:
        results: list[Response | None] = [None] * len(requests)
        for index, response in self.stream(requests):
            results[index] = response
            if progress is not None:
                progress(1)
        return results

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[LoglikelihoodResult]:
        return self._collect(requests, progress)

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        return self._collect(requests, progress)

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        return self._collect(requests, progress)
