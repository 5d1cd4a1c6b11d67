"""Thinking segments of reasoning models: removed before extraction, counted separately.

Convention (`thinking-v1`), for one tag pair (default `<think>` / `</think>`):

- Every closed segment `OPEN ... CLOSE` is thinking; the text around the segments is the
  answer.
- A CLOSE with no OPEN before it means the response began inside a segment (chat templates
  such as DeepSeek-R1's put the OPEN tag in the prompt): everything before the first CLOSE
  is thinking.
- An OPEN never closed (the budget ran out mid-thought, or the response starts with an
  unclosed `<think>`) makes everything after it thinking: the answer is what came before it,
  usually nothing, and `unclosed` is True.
- Tags match literally (case-sensitive). Whitespace around the answer is stripped.

Counts per response: `thinking_chars` (characters inside segments, tags excluded),
`thinking_words` (whitespace-separated words there) and `reasoning_tokens`: the backend's
completion-token count prorated by characters (`completion_tokens * thinking_chars /
len(response)`, rounded), an estimate that is exact only when tokens are spread evenly;
None when the backend reports no token count. A backend that counts thinking tokens itself
(budget forcing: `core.types.ThinkingTrace`) gives the exact count instead
(`reasoning_tokens_exact` true), with `thinking_forced` and `thinking_extensions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.core.types import ThinkingTrace

THINKING_VERSION = "thinking-v1"
DEFAULT_TAGS: tuple[str, str] = ("<think>", "</think>")


@dataclass(frozen=True)
class ThinkingSplit:
    """A response split into its answer and its thinking (see the module docstring)."""

    answer: str
    thinking: tuple[str, ...]
    unclosed: bool

    @property
    def thinking_chars(self) -> int:
        return sum(len(segment) for segment in self.thinking)

    @property
    def thinking_words(self) -> int:
        return sum(len(segment.split()) for segment in self.thinking)

    def reasoning_tokens(self, completion_tokens: int, response_chars: int) -> int | None:
        """Completion tokens prorated to the thinking's share of the response's characters;
        None when no token count is known (0 or negative)."""
        if completion_tokens <= 0 or response_chars <= 0:
            return None
        return round(completion_tokens * min(1.0, self.thinking_chars / response_chars))

    def counts(self, completion_tokens: int = 0, response_chars: int = 0,
               trace: ThinkingTrace | None = None) -> dict[str, object]:
        """The per-sample record of this split (stored in a sample's `extra`); `trace`:
        the backend's own count of the thinking tokens (budget forcing), used when given."""
        found: dict[str, object] = {
            "thinking_segments": len(self.thinking),
            "thinking_chars": self.thinking_chars,
            "thinking_words": self.thinking_words,
            "thinking_unclosed": self.unclosed,
            "reasoning_tokens": self.reasoning_tokens(completion_tokens, response_chars),
        }
        if trace is not None:
            found.update(reasoning_tokens=trace.tokens, reasoning_tokens_exact=True,
                         thinking_forced=trace.forced_stop,
                         thinking_extensions=trace.extensions)
        return found


def parse_tags(spec: str | None) -> tuple[str, str] | None:
    """A task option `OPEN,CLOSE` (e.g. `<think>,</think>`) as a tag pair; None, empty or
    `none` disables thinking removal. ValueError when the spec is not two non-empty tags."""
    if spec is None:
        return DEFAULT_TAGS
    if spec.strip().lower() in ("", "none", "off"):
        return None
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise ValueError(f"thinking tags must be OPEN,CLOSE (two different tags), got {spec!r}")
    return parts[0], parts[1]


def split_thinking(text: str, tags: Sequence[str] | None = DEFAULT_TAGS) -> ThinkingSplit:
    """Split `text` into answer and thinking segments by the rules of the module docstring.

    `tags=None` keeps the whole text as the answer."""
    if tags is None:
        return ThinkingSplit(text.strip(), (), False)
    open_tag, close_tag = tags
    answer: list[str] = []
    thinking: list[str] = []
    rest = text
    first_close = rest.find(close_tag)
    first_open = rest.find(open_tag)
    if first_close >= 0 and (first_open < 0 or first_close < first_open):
        thinking.append(rest[:first_close])
        rest = rest[first_close + len(close_tag) :]
    unclosed = False
    while True:
        start = rest.find(open_tag)
        if start < 0:
            answer.append(rest)
            break
        answer.append(rest[:start])
        end = rest.find(close_tag, start + len(open_tag))
        if end < 0:
            thinking.append(rest[start + len(open_tag) :])
            unclosed = True
            break
        thinking.append(rest[start + len(open_tag) : end])
        rest = rest[end + len(close_tag) :]
    return ThinkingSplit("".join(answer).strip(), tuple(thinking), unclosed)
