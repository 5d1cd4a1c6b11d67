"""Which shared-prefix mode multiple-choice scoring uses on one model, and why.

Modes are tried fastest first (`packed`, then `copy`, see `hf_prefix`); a model whose
architecture rules sharing out (`shared_prefix_supported`) starts with none (the naive path).
A mode is dropped when the one-time self-check against the naive path fails on the run's own
requests; the check is done for good once it has seen multi-token continuations. The path in
use and every reason for not using a faster one form `scoring_path` (stored in the run
manifest); a fallback from the packed mode is one warning line, once.
"""

from __future__ import annotations

import logging
from typing import Any

from lmaudit.backends.hf_prefix import (
    MODES,
    check_sample,
    mode_failure,
    shared_prefix_supported,
)
from lmaudit.backends.hf_tokens import TokenizedPair

logger = logging.getLogger("lmaudit.backends.hf")


class SharedPrefixModes:
    """The shared-prefix modes still allowed on `model` (named `name` in messages)."""

    def __init__(self, model: Any, name: str, *, pad_id: int, tolerance: float) -> None:
        self._model, self._name = model, name
        self._pad_id, self._tolerance = pad_id, tolerance
        unsupported = shared_prefix_supported(model)
        self._modes: list[str] = [] if unsupported else list(MODES)
        # why the mode in use is not the fastest one (empty while packed mode holds)
        self._fallbacks = (
            [f"shared-prefix scoring unsupported: {unsupported}"] if unsupported else []
        )
        self._checked = False
        self._used = False  # a request that could share its context has been scored
        self._announced = False

    @property
    def mode(self) -> str | None:
        """`packed` or `copy`, or None when every request runs naively."""
        return self._modes[0] if self._modes else None

    @property
    def scoring_path(self) -> dict[str, Any] | None:
        """`mode` (`packed`, `copy` or `naive`), `reasons` (why not a faster mode; empty for
        packed) and `checked` (the self-check has run); None before the first request that
        could share a context."""
        if not (self._used or self._fallbacks):
            return None
        return {
            "mode": self.mode or "naive",
            "reasons": list(self._fallbacks),
            "checked": self._checked,
        }

    def choose(self, pairs: list[TokenizedPair]) -> str | None:
        """The mode for `pairs` (requests that could share a context), self-checking on them
        first while the check is not done, and announcing a fallback once."""
        if not pairs:
            return self.mode
        self._used = True
        if not self._checked:
            self._self_check(pairs)
        self._announce()
        return self.mode

    def _self_check(self, pairs: list[TokenizedPair]) -> None:
        sample, complete = check_sample(pairs)
        while self._modes and sample:
            failure = mode_failure(
                self._model,
                sample,
                self._modes[0],
                pad_id=self._pad_id,
                tolerance=self._tolerance,
            )
            if failure is None:
                break
            self._modes.pop(0)
            self._fallbacks.append(failure)
        self._checked = complete or not self._modes

    def _announce(self) -> None:
        mode = self.mode or "naive"
        if self._announced or (mode == "packed" and not self._checked):
            return
        self._announced = True
        if mode != "packed":
            logger.warning(
                "multiple-choice scoring on %s uses the %s path, slower than packed: %s",
                self._name,
                mode,
                "; ".join(self._fallbacks),
            )
