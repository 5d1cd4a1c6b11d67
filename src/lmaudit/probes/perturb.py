"""Answer-preserving perturbations of one Sample (pure functions).

Every perturbed Sample keeps the link to its original in `metadata`:

- `original_id`: the id of the unperturbed sample;
- `variant`: the family (`original`, `symbolic`, `p1`, `p2`, `noop`, `noop_numeric`,
  `reorder`, `permute`, `relabel`);
- `variant_set`: the instance-set index within the family (0 for a family with one set;
  for `permute`, the rotation);
- `cluster`: the original's cluster (its template for templated tasks, else its own id),
  so that paired intervals are clustered the same way for every variant;
- `meaning_may_change`: True for sentence reordering (the order of facts can matter).

Prompt anatomy used by the text perturbations: the *question sentence* is the sentence
that ends with the last `?` of the prompt; the *context sentences* are the sentences
before it on the same line (after a `Question:`/`Problem:`/`Q:` label). Sentences split
at `.`, `!` or `?` followed by white space, so an abbreviation such as "Mr. Li" splits
wrongly (a known limit; such a split only moves the text, it never drops any).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lmaudit.core.types import Sample

VARIANT_FAMILIES = ("symbolic", "p1", "p2", "noop", "noop_numeric", "reorder", "permute",
                    "relabel")

# Our own neutral sentences: facts that change no quantity of any word problem.
NEUTRAL_SENTENCES = (
    "The weather that week was mild and dry.",
    "A radio was playing quietly in the background.",
    "Nobody was in a hurry that afternoon.",
    "The building nearby had recently been painted blue.",
    "It was the second Tuesday of the month.",
    "A neighbour waved from across the street.",
    "The calendar on the wall showed a picture of a lighthouse.",
    "Someone had left a cup of tea on the windowsill.",
    "The streetlights came on a little earlier than usual.",
    "A cat was sleeping on a chair near the door.",
    "The town library had extended its opening hours.",
    "There was a faint smell of fresh bread in the air.",
)

_LABEL = re.compile(r"^\s*(?:Question|Problem|Q)\s*:\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LISTED_OPTION = re.compile(r"^([A-Z])[.)] ", re.MULTILINE)
RELABEL_SETS: tuple[tuple[str, ...], ...] = (
    ("W", "X", "Y", "Z", "V", "U"),
    ("1", "2", "3", "4", "5", "6"),
)


def stable_rng(*parts: object) -> random.Random:
    """A generator seeded by SHA-256 of the parts (independent of Python's hash seed)."""
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def probe_metadata(
    original: Sample, variant: str, variant_set: int, **extra: Any
) -> dict[str, Any]:
    """The original's metadata plus the probe link fields (see the module docstring)."""
    metadata: dict[str, Any] = dict(original.metadata)
    metadata.update(
        original_id=str(original.metadata.get("original_id", original.id)),
        variant=variant,
        variant_set=variant_set,
        cluster=original.cluster if original.cluster is not None else original.id,
        meaning_may_change=False,
    )
    metadata.update(extra)
    return metadata


def as_original(sample: Sample) -> Sample:
    """The unperturbed sample, tagged as variant `original`, set 0."""
    return replace(sample, metadata=probe_metadata(sample, "original", 0))


def variant_id(original: Sample, variant: str, variant_set: int) -> str:
    return f"{original.id}~{variant}{variant_set}"


@dataclass(frozen=True)
class PromptParts:
    """A prompt split around its question sentence: `head + " ".join(context) + (" " if
    context) + question + tail` rebuilds it (white space between sentences normalised)."""

    head: str
    context: tuple[str, ...]
    question: str
    tail: str

    def text(self, context: Sequence[str] | None = None) -> str:
        sentences = [*(self.context if context is None else context), self.question]
        return self.head + " ".join(sentences) + self.tail


def split_prompt(text: str) -> PromptParts | None:
    """The prompt's question sentence and the context sentences before it; None when the
    prompt has no `?`."""
    q = text.rfind("?")
    if q < 0:
        return None
    line_start = text.rfind("\n", 0, q) + 1
    line = text[line_start : q + 1]
    label = _LABEL.match(line)
    label_end = label.end() if label else len(line) - len(line.lstrip())
    sentences = [s for s in _SENTENCE_END.split(line[label_end:]) if s]
    if not sentences:
        return None
    return PromptParts(
        head=text[: line_start + label_end],
        context=tuple(sentences[:-1]),
        question=sentences[-1],
        tail=text[q + 1 :],
    )


def insert_clause(sample: Sample, clause: str, variant_set: int = 0) -> Sample | None:
    """`clause` inserted just before the question sentence (None: no question sentence)."""
    parts = split_prompt(sample.input)
    if parts is None:
        return None
    text = parts.text([*parts.context, clause.strip()])
    return replace(
        sample,
        id=variant_id(sample, "noop", variant_set),
        input=text,
        metadata=probe_metadata(sample, "noop", variant_set, clause=clause.strip()),
    )


def irrelevant_clause(sample: Sample, variant_set: int = 0, seed: int = 0) -> Sample | None:
    """A neutral sentence from `NEUTRAL_SENTENCES` (seeded by sample id, set and seed)
    inserted before the question sentence; None when the prompt has no question sentence."""
    rng = stable_rng("noop", sample.id, variant_set, seed)
    return insert_clause(sample, rng.choice(NEUTRAL_SENTENCES), variant_set)


def reorder_sentences(sample: Sample, variant_set: int = 0, seed: int = 0) -> Sample | None:
    """The context sentences shuffled (seeded; never the identity), the question sentence
    kept last. None with fewer than two context sentences. Flagged `meaning_may_change`:
    a problem whose facts depend on their order ("then", "after that") can change."""
    parts = split_prompt(sample.input)
    if parts is None or len(parts.context) < 2:
        return None
    rng = stable_rng("reorder", sample.id, variant_set, seed)
    order = list(range(len(parts.context)))
    while order == sorted(order):
        rng.shuffle(order)
    return replace(
        sample,
        id=variant_id(sample, "reorder", variant_set),
        input=parts.text([parts.context[i] for i in order]),
        metadata=probe_metadata(
            sample, "reorder", variant_set, meaning_may_change=True, sentence_order=order
        ),
    )


def listed_labels(sample: Sample) -> tuple[str, ...] | None:
    """The option labels when the prompt lists the options (`A. text` lines) and the
    choices are those labels (MMLU style); None otherwise."""
    if not sample.choices:
        return None
    labels = tuple(_LISTED_OPTION.findall(sample.input))
    return labels if labels == tuple(sample.choices) else None


def _option_lines(text: str, labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, option text) of each listed option line, in label order."""
    spans = []
    for label in labels:
        match = re.search(rf"^{re.escape(label)}[.)] (.*)$", text, re.MULTILINE)
        assert match is not None
        spans.append((match.start(1), match.end(1), match.group(1)))
    return spans


def _with_option_texts(text: str, labels: Sequence[str], texts: Sequence[str]) -> str:
    spans = _option_lines(text, labels)
    for (start, end, _), new in sorted(zip(spans, texts, strict=True), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def rotate_options(sample: Sample, shift: int) -> Sample | None:
    """Options rotated left by `shift` (option i moves to position i - shift mod n); the
    target follows its option. Choices that are option texts rotate in `choices`; options
    listed in the prompt (`A. text`) rotate their texts in the prompt. Set = `shift`."""
    if not sample.choices or not isinstance(sample.target, int):
        return None
    n = len(sample.choices)
    target = (int(sample.target) - shift) % n
    metadata = probe_metadata(sample, "permute", shift, target_position=target)
    labels = listed_labels(sample)
    if labels is not None:
        texts = [t for _, _, t in _option_lines(sample.input, labels)]
        rotated = [texts[(i + shift) % n] for i in range(n)]
        text = _with_option_texts(sample.input, labels, rotated)
        return replace(
            sample, id=variant_id(sample, "permute", shift), input=text, target=target,
            metadata=metadata,
        )
    choices = tuple(sample.choices[(i + shift) % n] for i in range(n))
    return replace(
        sample, id=variant_id(sample, "permute", shift), choices=choices, target=target,
        metadata=metadata,
    )


def relabel_options(sample: Sample, variant_set: int = 0) -> Sample | None:
    """Listed option labels replaced (A-D → W-Z for set 0, → 1-4 for set 1) in the prompt
    and in `choices`; None when the prompt does not list its options by label."""
    labels = listed_labels(sample)
    if labels is None:
        return None
    new = RELABEL_SETS[variant_set % len(RELABEL_SETS)][: len(labels)]
    if len(new) < len(labels):
        return None
    text = sample.input
    for old, fresh in zip(labels, new, strict=True):
        text = re.sub(rf"^{re.escape(old)}([.)]) ", rf"{fresh}\1 ", text, flags=re.MULTILINE)
    return replace(
        sample, id=variant_id(sample, "relabel", variant_set), input=text, choices=new,
        metadata=probe_metadata(sample, "relabel", variant_set, labels=list(new)),
    )


def link_fields(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The probe fields of a sample's metadata (what the run store keeps per record):
    the link to the original, and where present the template a variant came from
    (`template_id`) and an inserted clause (`clause`)."""
    keys = ("original_id", "variant", "variant_set", "meaning_may_change", "target_position",
            "template_id", "clause")
    return {k: metadata[k] for k in keys if k in metadata}
