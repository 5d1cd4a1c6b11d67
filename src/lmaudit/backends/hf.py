"""The Hugging Face transformers backend: local or hub causal LMs, run in-process.

Log-probabilities are natural logs. Tokenization follows lm-evaluation-harness (see
`hf_tokens`). Multiple-choice requests that share a context run that context once
(`hf_prefix`: "packed" mode, else "copy" mode); models where that is unsupported, or where a
one-time self-check against the naive computation fails, use the naive path. The path taken
and why is `scoring_path` (stored in the run manifest); a fallback is one warning, once.

BOS rule: contexts and prompts are encoded with the tokenizer's default special tokens, so
a BOS token is prepended exactly when the tokenizer's post-processor adds one (Llama-style
yes, GPT-2-style no), and never when the text already starts with the BOS string.
Continuations, rolling texts and chat-templated prompts are encoded without special tokens.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lmaudit.backends.budget_forcing import generate_forced_batches
from lmaudit.backends.hf_generate import (
    FittedPrompt,
    budget_note,
    eos_token_ids,
    fit_prompt,
    generate_batch,
    sample_shared_prompts,
)
from lmaudit.backends.hf_loading import hub_commit, load, max_length_of, weights_digest
from lmaudit.backends.hf_prefix import score_shared_prefix
from lmaudit.backends.hf_prefix_modes import SharedPrefixModes
from lmaudit.backends.hf_scoring import TokenScores, score_naive
from lmaudit.backends.hf_tokens import (
    TokenizedPair,
    TokenizerRules,
    encode_pair,
    fits,
    rolling_windows,
    truncate_left,
)
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenDistributionStats:
    """Per continuation token: mean and variance of log p over the next-token distribution.

    `means[i] = sum_v p(v) log p(v)` and `variances[i] = sum_v p(v) (log p(v) - means[i])^2`
    (nats), the normalisers of Min-K%++.
    """

    means: tuple[float, ...]
    variances: tuple[float, ...]


class HFBackend:
    """A transformers causal LM. `model` is a hub id or a directory from save_pretrained."""

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 16,
        revision: str | None = None,
        trust_remote_code: bool = False,
        max_length: int | None = None,
        chat_template: bool = False,
    ) -> None:
        if batch_size < 1:
            raise LmauditError(f"batch_size must be at least 1, got {batch_size}")
        self._name = model
        self._loaded = load(
            model,
            dtype=dtype,
            device=device,
            revision=revision,
            trust_remote_code=trust_remote_code,
        )
        self._revision = revision
        self._batch_size = batch_size
        tokenizer = self._loaded.tokenizer
        tokenizer.padding_side = "left"  # generation convention; scoring pads by hand
        if tokenizer.pad_token_id is None:
            fallback = tokenizer.eos_token or tokenizer.unk_token
            if fallback is not None:
                tokenizer.pad_token = fallback
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._rules = TokenizerRules.of(tokenizer, name=model, chat_template=chat_template)
        self._prefix_id: int = self._rules.prefix_token_id
        self._max_length = max_length or max_length_of(self._loaded.model, tokenizer)
        self._prefix_modes = SharedPrefixModes(
            self._loaded.model,
            self._name,
            pad_id=self._pad_id,
            tolerance=1e-3 if self._loaded.dtype == "float32" else 0.1,
        )
        self._fingerprint: Fingerprint | None = None
        self._budget: dict[int, list[FittedPrompt]] = {}  # max_tokens -> fitted prompts

    # -- identity ---------------------------------------------------------------------------

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
        if self._fingerprint is None:
            loaded = self._loaded
            if loaded.local_dir is not None:
                revision = weights_digest(loaded.local_dir)
            else:
                found = hub_commit(loaded.source, self._revision, loaded.model.config)
                revision = found or self._revision or "unknown"
            self._fingerprint = Fingerprint("hf", loaded.source, revision, loaded.dtype)
        return self._fingerprint

    @property
    def model(self) -> Any:
        """The underlying `transformers` model (eval mode)."""
        return self._loaded.model

    @property
    def tokenizer(self) -> Any:
        """The underlying `transformers` tokenizer (left padding side)."""
        return self._loaded.tokenizer

    @property
    def max_length(self) -> int:
        """Longest model input in tokens (the user's `max_length`, else the model's)."""
        return self._max_length

    @property
    def shared_prefix_mode(self) -> str | None:
        """`packed` or `copy` (see `hf_prefix`), or None when every request runs naively."""
        return self._prefix_modes.mode

    @property
    def scoring_path(self) -> dict[str, Any] | None:
        """How multiple-choice log-likelihoods were scored, for the run manifest (see
        `hf_prefix_modes`); None before the first request that could share a context."""
        return self._prefix_modes.scoring_path

    def tokenize_pair(self, request: LoglikelihoodRequest) -> TokenizedPair:
        """The (context, continuation) token ids scored for `request`, before truncation."""
        return self._rules.pair(request)

    # -- loglikelihood ----------------------------------------------------------------------

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[LoglikelihoodResult]:
        return [result for result, _ in self._score(requests, progress, with_stats=False)]

    def loglikelihood_with_stats(
        self,
        requests: Sequence[LoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[tuple[LoglikelihoodResult, TokenDistributionStats]]:
        """`loglikelihood` plus next-token distribution statistics per continuation token."""
        return [
            (result, TokenDistributionStats(scores.means or (), scores.variances or ()))
            for result, scores in self._score(requests, progress, with_stats=True)
        ]

    def _score(
        self,
        requests: Sequence[LoglikelihoodRequest],
        progress: ProgressCallback | None,
        *,
        with_stats: bool,
    ) -> list[tuple[LoglikelihoodResult, TokenScores]]:
        unique: dict[LoglikelihoodRequest, int] = {}
        for request in requests:
            unique.setdefault(request, len(unique))
        counts = [0] * len(unique)
        for request in requests:
            counts[unique[request]] += 1
        # Options of one question are adjacent: a small LRU spares re-encoding their context.
        encode = functools.lru_cache(maxsize=256)(lambda text: tuple(self._rules.encode(text)))
        pairs = [
            encode_pair(
                r.context,
                r.continuation,
                encode=lambda text: list(encode(text)),
                encode_plain=self._rules.encode_plain,
                prefix_token_id=self._prefix_id,
            )
            for r in unique
        ]
        scores = self._score_pairs(pairs, counts, progress, with_stats)
        out = []
        for request in requests:
            s = scores[unique[request]]
            result = LoglikelihoodResult(
                s.logprob, s.is_greedy, len(s.token_logprobs), s.token_logprobs, s.greedy
            )
            out.append((result, s))
        return out

    def _score_pairs(
        self,
        pairs: list[TokenizedPair],
        counts: list[int],
        progress: ProgressCallback | None,
        with_stats: bool,
    ) -> list[TokenScores]:
        """Score pairs (truncating from the left); route each to the shared or naive path."""
        fitted = [truncate_left(p, self._max_length) for p in pairs]
        context_uses: dict[tuple[int, ...], int] = {}
        for pair in pairs:
            context_uses[pair.context] = context_uses.get(pair.context, 0) + 1

        def shareable(i: int) -> bool:
            pair = pairs[i]
            return fits(pair, self._max_length) and (
                context_uses[pair.context] > 1 or len(pair.continuation) == 1
            )

        with torch.inference_mode():
            shared = [i for i in range(len(pairs)) if shareable(i)]
            mode = self._prefix_modes.choose([fitted[i] for i in shared])
            if mode is None:
                shared = []
            shared_set = set(shared)
            naive = [i for i in range(len(pairs)) if i not in shared_set]
            results: list[TokenScores | None] = [None] * len(pairs)
            for subset, prefix_mode in ((shared, mode), (naive, None)):
                if not subset:
                    continue

                def done(local: list[int], subset: list[int] = subset) -> None:
                    if progress is not None:
                        progress(sum(counts[subset[k]] for k in local))

                options: dict[str, Any] = dict(
                    batch_size=self._batch_size,
                    pad_id=self._pad_id,
                    with_stats=with_stats,
                    on_done=done,
                )
                chosen = [fitted[i] for i in subset]
                scored = (
                    score_shared_prefix(
                        self.model,
                        chosen,
                        mode=prefix_mode,
                        max_row_length=self._max_length,
                        **options,
                    )
                    if prefix_mode
                    else score_naive(self.model, chosen, **options)
                )
                for i, s in zip(subset, scored, strict=True):
                    results[i] = s
        return [s for s in results if s is not None]

    # -- rolling loglikelihood ---------------------------------------------------------------

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        """Whole-text log-likelihood in disjoint windows of `max_length` tokens (nats).

        The text is encoded without special tokens; the first window is conditioned on the
        prefix token (BOS, else EOS). Every text token is predicted exactly once.
        """
        windows: list[TokenizedPair] = []
        owner: list[int] = []
        for r, request in enumerate(requests):
            tokens = self._rules.encode_plain(request.text)
            found = rolling_windows(
                tokens, prefix_token_id=self._prefix_id, max_length=self._max_length
            )
            windows.extend(found)
            owner.extend([r] * len(found))
        remaining = [0] * len(requests)
        for r in owner:
            remaining[r] += 1
        if progress is not None and (empty := sum(1 for n in remaining if n == 0)):
            progress(empty)

        def done(local: list[int]) -> None:
            finished = 0
            for k in local:
                remaining[owner[k]] -= 1
                finished += remaining[owner[k]] == 0
            if progress is not None and finished:
                progress(finished)

        with torch.inference_mode():
            scored = score_naive(
                self.model, windows, batch_size=self._batch_size, pad_id=self._pad_id, on_done=done
            )
        per_request: list[list[float]] = [[] for _ in requests]
        for r, s in zip(owner, scored, strict=True):
            per_request[r].extend(s.token_logprobs)
        return [
            RollingLoglikelihoodResult(float(sum(lps)), len(lps), tuple(lps)) for lps in per_request
        ]

    # -- generation -------------------------------------------------------------------------

    def _fit(self, requests: Sequence[GenerateRequest]) -> list[FittedPrompt]:
        """Each prompt whole, with the new tokens that fit (`fit_prompt`); a change is
        warned about once per `max_tokens` value and kept for `generation_notes`."""
        fitted = [
            fit_prompt(
                self._rules.encode_prompt(r), r.params.max_tokens, self._max_length, self._prefix_id
            )
            for r in requests
        ]
        for max_tokens in sorted({r.params.max_tokens for r in requests}):
            mine = [
                f
                for f, r in zip(fitted, requests, strict=True)
                if r.params.max_tokens == max_tokens
            ]
            seen = self._budget.setdefault(max_tokens, [])
            first = not any(f.max_new_tokens < max_tokens for f in seen)
            seen.extend(FittedPrompt([], f.max_new_tokens, f.dropped) for f in mine)  # no ids
            note = budget_note(max_tokens, mine, self._max_length)
            if note is not None and first:
                logger.warning("%s", note)
        return fitted

    def _sample(
        self,
        requests: Sequence[GenerateRequest],
        prompts: Sequence[list[int]],
        params: GenerationParams,
        members: Sequence[int],
        eos_ids: set[int],
        results: list[Generation | None],
        progress: ProgressCallback | None,
    ) -> None:
        """Sampled requests that share `params` but for their seeds: each distinct prompt is
        computed once for all its samples (`sample_shared_prompts`); calls pack whole
        prompts, longest first, up to `batch_size` samples (a prompt with more samples
        gets one call per `batch_size` of them)."""
        by_prompt: dict[tuple[int, ...], list[int]] = {}
        for i in sorted(members, key=lambda i: (-len(prompts[i]), i)):
            by_prompt.setdefault(tuple(prompts[i]), []).append(i)
        chunks = [rows[start : start + self._batch_size] for rows in by_prompt.values()
                  for start in range(0, len(rows), self._batch_size)]
        packed: list[list[list[int]]] = []
        for chunk in chunks:
            if packed and sum(map(len, packed[-1])) + len(chunk) <= self._batch_size:
                packed[-1].append(chunk)
            else:
                packed.append([chunk])
        for call in packed:
            outputs = sample_shared_prompts(
                self.model,
                self.tokenizer,
                [prompts[chunk[0]] for chunk in call],
                [[requests[i].params.seed for i in chunk] for chunk in call],
                params,
                pad_id=self._pad_id,
                eos_ids=eos_ids,
            )
            for chunk, generations in zip(call, outputs, strict=True):
                for i, generation in zip(chunk, generations, strict=True):
                    results[i] = generation
            if progress is not None:
                progress(sum(map(len, call)))

    @property
    def prompt_format(self) -> dict[str, Any]:
        """Chat template hash and BOS handling (`backends.prompt_format`), for the manifest."""
        from lmaudit.backends.prompt_format import describe_prompt_format

        return describe_prompt_format(self.tokenizer, chat_template=self._rules.chat_template)

    @property
    def generation_notes(self) -> list[str]:
        """How `fit_prompt` changed this backend's generations so far, one line per
        `max_tokens` value that did not fit (empty when all fitted)."""
        notes = (budget_note(m, fitted, self._max_length) for m, fitted in self._budget.items())
        return [note for note in notes if note is not None]

    def generate(
        self,
        requests: Sequence[GenerateRequest],
        progress: ProgressCallback | None = None,
    ) -> list[Generation]:
        """Greedy or sampled generation; batches share params, sorted by prompt length.

        A prompt is never cut to make room for `max_tokens`: the budget shrinks instead
        (see `hf_generate.fit_prompt`), with a warning and a line in `generation_notes`.
        Sampled requests that differ only in their seed share one computation of their
        prompt (`_sample`, `hf_generate.sample_shared_prompts`).
        """
        fitted = self._fit(requests)
        prompts = [f.ids for f in fitted]
        by_params: dict[GenerationParams, list[int]] = {}
        for i, request in enumerate(requests):
            params = dataclasses.replace(request.params, max_tokens=fitted[i].max_new_tokens)
            if not params.greedy:  # samples differing only in seed share their prompt
                params = dataclasses.replace(params, seed=None)
            by_params.setdefault(params, []).append(i)
        eos_ids = eos_token_ids(self.model, self.tokenizer)
        results: list[Generation | None] = [None] * len(requests)
        with torch.inference_mode():
            for params, members in by_params.items():
                if params.thinking is not None and params.thinking.forcing:  # budget_forcing
                    for i, generation in generate_forced_batches(
                            self.model, self.tokenizer, requests, prompts, params, members,
                            batch_size=self._batch_size, pad_id=self._pad_id, eos_ids=eos_ids,
                            progress=progress).items():
                        results[i] = generation
                    continue
                if not params.greedy:
                    self._sample(requests, prompts, params, members, eos_ids, results, progress)
                    continue
                order = sorted(members, key=lambda i: (-len(prompts[i]), i))
                for start in range(0, len(order), self._batch_size):
                    batch = order[start : start + self._batch_size]
                    outputs = generate_batch(
                        self.model,
                        self.tokenizer,
                        [prompts[i] for i in batch],
                        params,
                        pad_id=self._pad_id,
                        eos_ids=eos_ids,
                    )
                    for i, generation in zip(batch, outputs, strict=True):
                        results[i] = generation
                    if progress is not None:
                        progress(len(batch))
        return [g for g in results if g is not None]
