"""The vLLM backend: offline batched inference with `vllm.LLM` on CUDA GPUs.

Tokenization follows the HF backend (`hf_tokens`, lm-evaluation-harness conventions, same
BOS rule), so the two backends score the same token ids. Log-probabilities are natural logs.

Loglikelihood: the prompt `context + continuation` is sent as token ids with
`prompt_logprobs=1, max_tokens=1`, and the continuation tokens' prompt log-probabilities are
summed (`vllm_outputs`: format, greedy rule). A prompt holds at most `max_model_len - 1`
tokens (vLLM keeps room for one generated token): left truncation and rolling windows use
that limit, so scores equal the HF backend's run with `max_length = max_model_len - 2`.

Budget forcing (`params.thinking`, see `core.types.ThinkingControl`) runs as rounds of
generation (`vllm_budget`). Generated-token log-probabilities (`params.logprobs`) come from
`SamplingParams(logprobs=0)`: the sampled token's raw log-probability.

Prefix caching speeds up generation; the V1 engine of vLLM skips prefix-cache reads for requests
that ask for prompt log-probabilities, so scoring recomputes every prompt.

`Usage` per answer: prompt and generated tokens as vLLM counted them, and the wall time of
the engine call that produced it (one call serves up to `call_size` requests).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lmaudit.backends.hf_generate import FittedPrompt, budget_note, fit_prompt
from lmaudit.backends.hf_tokens import TokenizedPair, TokenizerRules, rolling_windows
from lmaudit.backends.vllm_budget import generate_forced
from lmaudit.backends.vllm_outputs import (
    ContinuationScores,
    combine_windows,
    continuation_scores,
    generation_from_output,
    generation_sampling_kwargs,
    output_usage,
    scoring_max_length,
    scoring_pair,
    scoring_sampling_kwargs,
)
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Usage,
)

VLLM_MISSING = "vLLM is not installed: pip install 'lmaudit[vllm]' on a machine with a CUDA GPU"
DEFAULT_CALL_SIZE = 1024  # prompts per LLM.generate call (progress is reported per call)


# -- the engine seam ----------------------------------------------------------------------------


logger = logging.getLogger(__name__)


class PromptEngine(Protocol):
    """Runs token-id prompts with one sampling-parameter dict each; returns objects shaped
    like vLLM's RequestOutput, in prompt order."""

    def run(
        self, prompts: Sequence[Sequence[int]], params: Sequence[Mapping[str, Any]]
    ) -> list[Any]: ...


class VLLMEngine:
    """`PromptEngine` over a `vllm.LLM` (token-id prompts, per-prompt SamplingParams)."""

    def __init__(self, llm: Any, sampling_params_class: Any) -> None:
        self.llm = llm
        self._sampling = sampling_params_class

    def run(
        self, prompts: Sequence[Sequence[int]], params: Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        inputs = [{"prompt_token_ids": list(p)} for p in prompts]  # a vllm TokensPrompt
        sampling = [self._sampling(**k) for k in params]
        return list(self.llm.generate(inputs, sampling, use_tqdm=False))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(error).__name__


def start_vllm(model: str, **engine_args: Any) -> tuple[VLLMEngine, Any]:
    """Build `vllm.LLM(model, **engine_args)`; returns the engine and its tokenizer."""
    try:
        import vllm
    except ImportError as error:
        raise LmauditError(VLLM_MISSING) from error
    try:
        llm = vllm.LLM(model, **engine_args)
    except Exception as error:
        raise LmauditError(f"cannot start vLLM for model {model!r}: {_one_line(error)}") from error
    return VLLMEngine(llm, vllm.SamplingParams), llm.get_tokenizer()


# -- the backend --------------------------------------------------------------------------------


class VLLMBackend:
    """A hub id or local directory served in-process by vLLM (CUDA GPUs)."""

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        seed: int = 0,
        enable_prefix_caching: bool = True,
        revision: str | None = None,
        trust_remote_code: bool = False,
        chat_template: bool = False,
        call_size: int = DEFAULT_CALL_SIZE,
    ) -> None:
        engine, tokenizer = start_vllm(
            model,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
            seed=seed,
            enable_prefix_caching=enable_prefix_caching,
            revision=revision,
            trust_remote_code=trust_remote_code,
        )
        config = engine.llm.llm_engine.model_config
        self._setup(
            engine,
            tokenizer,
            name=model,
            max_model_len=int(config.max_model_len),
            chat_template=chat_template,
            call_size=call_size,
        )
        self._revision = revision
        self._dtype = str(getattr(config, "dtype", dtype)).removeprefix("torch.")
        self._hf_config = getattr(config, "hf_config", None)

    @classmethod
    def from_engine(
        cls,
        engine: PromptEngine,
        tokenizer: Any,
        *,
        name: str,
        max_model_len: int,
        fingerprint: Fingerprint,
        chat_template: bool = False,
        call_size: int = DEFAULT_CALL_SIZE,
    ) -> VLLMBackend:
        """A backend over any `PromptEngine` (a started vLLM, or a stand-in in tests)."""
        backend = cls.__new__(cls)
        backend._setup(
            engine,
            tokenizer,
            name=name,
            max_model_len=max_model_len,
            chat_template=chat_template,
            call_size=call_size,
        )
        backend._fingerprint = fingerprint
        return backend

    def _setup(
        self,
        engine: PromptEngine,
        tokenizer: Any,
        *,
        name: str,
        max_model_len: int,
        chat_template: bool,
        call_size: int,
    ) -> None:
        if call_size < 1:
            raise LmauditError(f"call_size must be at least 1, got {call_size}")
        self._engine = engine
        self._tokenizer = tokenizer
        self._name = name
        self._max_model_len = max_model_len
        self._budget_warned: set[int] = set()  # max_tokens values already warned about
        self._budget: dict[int, list[FittedPrompt]] = {}  # max_tokens -> fitted (no ids)
        self._scoring_max_length = scoring_max_length(max_model_len)
        self._call_size = call_size
        self._fingerprint: Fingerprint | None = None
        self._rules = TokenizerRules.of(tokenizer, name=name, chat_template=chat_template)
        self._prefix_id: int = self._rules.prefix_token_id

    # -- identity -----------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset(RequestKind)

    @property
    def thinking_controls(self) -> frozenset[str]:
        """Budget forcing decodes budgets, extensions and minimums; an effort level is not
        a thing a local model takes (`core.backend.check_thinking` warns, once)."""
        return frozenset({"budget", "extend", "min_tokens"})

    @property
    def fingerprint(self) -> Fingerprint:
        """`vllm:<model>@<hub commit or weights digest>/<dtype>` (as the HF backend's)."""
        if self._fingerprint is None:
            from pathlib import Path

            from lmaudit.backends.hf_loading import hub_commit, weights_digest

            local = Path(self._name).expanduser()
            if local.is_dir():
                source = str(local.resolve())
                revision = weights_digest(local.resolve())
            else:
                source = self._name
                found = hub_commit(self._name, self._revision, self._hf_config)
                revision = found or self._revision or "unknown"
            self._fingerprint = Fingerprint("vllm", source, revision, self._dtype)
        return self._fingerprint

    @property
    def max_model_len(self) -> int:
        return self._max_model_len

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    # -- tokenization (the HF backend's rules) ------------------------------------------------

    def tokenize_pair(self, request: LoglikelihoodRequest) -> TokenizedPair:
        """The (context, continuation) token ids scored for `request`, before truncation."""
        return self._rules.pair(request)

    # -- engine calls -------------------------------------------------------------------------

    def _run(
        self,
        prompts: Sequence[Sequence[int]],
        params: Sequence[Mapping[str, Any]],
        on_call: Callable[[int, int], None] | None = None,
    ) -> list[tuple[Any, float]]:
        """(output, latency of its engine call) per prompt, `call_size` prompts per call;
        `on_call(start, stop)` after each call."""
        results: list[tuple[Any, float]] = []
        for start in range(0, len(prompts), self._call_size):
            stop = min(start + self._call_size, len(prompts))
            began = time.perf_counter()
            outputs = self._engine.run(prompts[start:stop], params[start:stop])
            latency = time.perf_counter() - began
            if len(outputs) != stop - start:
                raise LmauditError(f"vLLM answered {len(outputs)} of {stop - start} prompts")
            results.extend((o, latency) for o in outputs)
            if on_call is not None:
                on_call(start, stop)
        return results

    def _score_pairs(
        self, pairs: Sequence[TokenizedPair], on_call: Callable[[int, int], None] | None
    ) -> list[tuple[ContinuationScores, Usage]]:
        prompts = [(*p.context, *p.continuation) for p in pairs]
        kwargs = scoring_sampling_kwargs()
        answered = self._run(prompts, [kwargs] * len(prompts), on_call)
        return [
            (
                continuation_scores(prompt, output.prompt_logprobs, len(pair.continuation)),
                output_usage(output, latency),
            )
            for prompt, pair, (output, latency) in zip(prompts, pairs, answered, strict=True)
        ]

    # -- the three request kinds --------------------------------------------------------------

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[LoglikelihoodResult]:
        unique: dict[LoglikelihoodRequest, int] = {}
        for request in requests:
            unique.setdefault(request, len(unique))
        uses = [0] * len(unique)
        for request in requests:
            uses[unique[request]] += 1
        pairs = [scoring_pair(self.tokenize_pair(r), self._max_model_len) for r in unique]

        def on_call(start: int, stop: int) -> None:
            if progress is not None:
                progress(sum(uses[start:stop]))

        scored = self._score_pairs(pairs, on_call)
        results = [
            LoglikelihoodResult(
                s.logprob, s.is_greedy, len(s.token_logprobs), s.token_logprobs, s.greedy, u
            )
            for s, u in scored
        ]
        return [results[unique[r]] for r in requests]

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        """Whole-text log-likelihood in disjoint windows of `max_model_len - 2` predicted
        tokens (see the module docstring); the first window is conditioned on BOS, else EOS."""
        windows: list[TokenizedPair] = []
        owner: list[int] = []
        for r, request in enumerate(requests):
            found = rolling_windows(
                self._rules.encode_plain(request.text),
                prefix_token_id=self._prefix_id,
                max_length=self._scoring_max_length,
            )
            windows.extend(found)
            owner.extend([r] * len(found))
        remaining = [0] * len(requests)
        for r in owner:
            remaining[r] += 1
        if progress is not None and (empty := remaining.count(0)):
            progress(empty)

        def on_call(start: int, stop: int) -> None:
            finished = 0
            for k in range(start, stop):
                remaining[owner[k]] -= 1
                finished += remaining[owner[k]] == 0
            if progress is not None and finished:
                progress(finished)

        scored = self._score_pairs(windows, on_call)
        per_request: list[list[tuple[ContinuationScores, Usage]]] = [[] for _ in requests]
        for r, item in zip(owner, scored, strict=True):
            per_request[r].append(item)
        return [
            combine_windows([s for s, _ in items], [u for _, u in items]) for items in per_request
        ]

    @property
    def max_length(self) -> int:
        """The model's context in tokens (`max_model_len`)."""
        return int(self._max_model_len)

    def prompt_ids(self, request: GenerateRequest) -> list[int]:
        """The prompt kept whole (see `fit_prompt`; only a prompt over the context is cut)."""
        return self._fit(request).ids

    def _fit(self, request: GenerateRequest) -> FittedPrompt:
        return fit_prompt(
            self._rules.encode_prompt(request),
            request.params.max_tokens,
            self._max_model_len,
            self._rules.prefix_token_id,
        )

    def _fitted_params(self, requests: Sequence[GenerateRequest]) -> list[FittedPrompt]:
        """Fit every request; warn once per `max_tokens` value that did not fit (and keep
        the counts for `generation_notes`)."""
        fitted = [self._fit(r) for r in requests]
        for max_tokens in sorted({r.params.max_tokens for r in requests}):
            mine = [
                f
                for f, r in zip(fitted, requests, strict=True)
                if r.params.max_tokens == max_tokens
            ]
            seen = self._budget.setdefault(max_tokens, [])
            seen.extend(FittedPrompt([], f.max_new_tokens, f.dropped) for f in mine)  # no ids
            note = budget_note(max_tokens, mine, self._max_model_len)
            if note is not None and max_tokens not in self._budget_warned:
                self._budget_warned.add(max_tokens)
                logger.warning("%s", note)
        return fitted

    @property
    def prompt_format(self) -> dict[str, Any]:
        """Chat template hash and BOS handling (`backends.prompt_format`), for the manifest."""
        from lmaudit.backends.prompt_format import describe_prompt_format

        return describe_prompt_format(self._tokenizer, chat_template=self._rules.chat_template)

    @property
    def generation_notes(self) -> list[str]:
        """How `fit_prompt` changed this backend's generations so far, one line per
        `max_tokens` value that did not fit (recorded in the run's manifest)."""
        notes = (budget_note(m, f, self._max_model_len) for m, f in self._budget.items())
        return [note for note in notes if note is not None]

    def generate(
        self,
        requests: Sequence[GenerateRequest],
        progress: ProgressCallback | None = None,
    ) -> list[Generation]:
        """Greedy or sampled generation; a seeded request samples the same text in any batch."""
        fitted = self._fitted_params(requests)
        prompts = [f.ids for f in fitted]
        requests = [
            dataclasses.replace(
                r, params=dataclasses.replace(r.params, max_tokens=f.max_new_tokens)
            )
            for r, f in zip(requests, fitted, strict=True)
        ]
        results: list[Generation | None] = [None] * len(requests)
        sent = [i for i, r in enumerate(requests) if r.params.max_tokens >= 1]
        for i, request in enumerate(requests):
            if request.params.max_tokens < 1:  # vLLM needs max_tokens >= 1
                n = len(prompts[i])
                results[i] = Generation("", "length", n, 0, usage=Usage(prompt_tokens=n))
        if progress is not None and len(sent) < len(requests):
            progress(len(requests) - len(sent))

        def on_call(start: int, stop: int) -> None:
            if progress is not None:
                progress(stop - start)

        forced = [i for i in sent if (t := requests[i].params.thinking) is not None and t.forcing]
        if forced:  # budget forcing: rounds of generation (`vllm_budget`)
            eos = {int(self._tokenizer.eos_token_id)} if self._tokenizer.eos_token_id is not None \
                else set()
            found = generate_forced(lambda p, k: self._run(p, k), self._tokenizer,
                                    [requests[i] for i in forced], [prompts[i] for i in forced],
                                    eos_ids=eos)
            for i, generation in zip(forced, found, strict=True):
                results[i] = generation
            on_call(0, len(forced))
            sent = sorted(set(sent) - set(forced))
        answered = self._run(
            [prompts[i] for i in sent],
            [generation_sampling_kwargs(requests[i].params) for i in sent],
            on_call,
        )
        for i, (output, latency) in zip(sent, answered, strict=True):
            results[i] = generation_from_output(output, latency)
        return [g for g in results if g is not None]
