"""Seemingly relevant no-op clauses that carry a number (our take on GSM-NoOp).

Mirzadeh et al. (2024) add to a problem a statement that looks relevant and carries a
number but changes nothing, and models subtract or multiply by it anyway. This family does
the same from lmaudit's own clause bank (no third-party text): a clause about the problem's
main person (`subject`, when the problem starts with a name) or a stranger (`other`, a
name from our vocabulary that the problem does not contain), with a whole number `n`.

Answer-preserving by construction: every number in a clause is a label (a bus, a locker,
a favourite number, a radio channel) or a quantity of a stranger or of a building, never
of anything the problem counts, and the question sentence is untouched, so the target
stays the original's.
The clause goes just before the question sentence (`perturb.split_prompt`), or before the
last sentence of a problem that ends in an instruction rather than a "?"; its number
is drawn from 2..40, or, with probability 1/2, is one of the numbers in that range that the
problem already uses (the most tempting distractor). Choices are seeded by (sample id,
seed) with SHA-256, so every model sees the same clause.
"""

from __future__ import annotations

import re
from dataclasses import replace

from lmaudit.core.types import Sample
from lmaudit.probes.perturb import probe_metadata, split_prompt, stable_rng, variant_id
from lmaudit.probes.templates.vocabularies import NAMES

FAMILY = "noop_numeric"
NUMBER_RANGE = (2, 40)

# Each clause's number is a label, or belongs to a stranger or to a building: nothing a
# problem counts. (Relatives, friends and neighbours are avoided: a problem may ask about
# "her friend"; "a stranger" is never one of its people.)
SUBJECT_CLAUSES = (
    "{subject}'s favourite number has always been {n}.",
    "The bus {subject} took that morning was number {n}.",
    "{subject}'s old school locker was number {n}.",
    "{subject} once read that a stranger named {other} had collected {n} postcards as a "
    "child.",
    "{other}, a stranger {subject} once met on a train, is {n} years old.",
)
GENERAL_CLAUSES = (
    "{other}, a stranger passing by, was reading a book with {n} chapters.",
    "A sign nearby said that the building had been built {n} years ago.",
    "{other}, a stranger who lives {n} kilometres away, heard about it on the news.",
    "The radio station playing in the background was channel {n}.",
    "Somewhere across town, a stranger named {other} planted {n} tulips that spring.",
)
NOT_NAMES = frozenset({
    "A", "An", "The", "If", "In", "On", "At", "There", "It", "This", "That", "These", "When",
    "What", "How", "Each", "Every", "After", "Before", "Last", "For", "She", "He", "They",
    "We", "I", "You", "His", "Her", "Their", "Our", "My", "One", "Two", "Three", "Some",
    "During", "While", "Mr", "Mrs", "Ms", "Dr", "Out", "Of", "To", "From", "Since", "Today",
})
_FIRST_WORD = re.compile(r"^([A-Z][a-z]+)(?:['’]s)?\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$])")
_INTEGER = re.compile(r"(?<![\d.,])\d+(?![\d.,]\d)")


def subject_of(sentence: str) -> str | None:
    """The name that starts the problem ("Janet’s ducks ..." → "Janet"), if any."""
    match = _FIRST_WORD.match(sentence.strip())
    if match is None or match.group(1) in NOT_NAMES:
        return None
    return match.group(1)


def clause_for(question_text: str, key: str, seed: int = 0) -> tuple[str, int]:
    """(clause, its number) for a problem text; seeded by `key` (the sample id) and `seed`."""
    rng = stable_rng(FAMILY, key, seed)
    subject = subject_of(question_text)
    others = [name for name in NAMES if name not in question_text and name != subject]
    other = rng.choice(others)
    low, high = NUMBER_RANGE
    used = sorted({int(m) for m in _INTEGER.findall(question_text) if low <= int(m) <= high})
    n = rng.choice(used) if used and rng.random() < 0.5 else rng.randint(low, high)
    bank = SUBJECT_CLAUSES + GENERAL_CLAUSES if subject else GENERAL_CLAUSES
    clause = rng.choice(bank).format(subject=subject, other=other, n=n)
    return clause, n


def _with_clause(sample: Sample, key: str, seed: int) -> tuple[str, str, int] | None:
    """(new prompt, clause, number): the clause goes before the question sentence (the one
    ending in the last "?"), or, for a problem that ends in an instruction instead ("...
    calculate Allen's age."), before the last sentence of its `question` field."""
    parts = split_prompt(sample.input)
    if parts is not None and parts.context:
        clause, n = clause_for(" ".join([*parts.context, parts.question]), key, seed)
        return parts.text([*parts.context, clause]), clause, n
    fields = sample.metadata.get("fields")
    question = fields.get("question") if isinstance(fields, dict) else None
    if not isinstance(question, str) or question not in sample.input:
        return None
    sentences = _SENTENCE_END.split(question.strip())
    if len(sentences) < 2:
        return None
    clause, n = clause_for(question, key, seed)
    problem = " ".join([*sentences[:-1], clause, sentences[-1]])
    return sample.input.replace(question.strip(), problem, 1), clause, n


def numeric_noop_variant(sample: Sample, seed: int = 0) -> Sample | None:
    """The sample with a numeric no-op clause before its question sentence (same target);
    None when the problem is a single sentence."""
    made = _with_clause(sample, sample.id, seed)
    if made is None:
        return None
    text, clause, n = made
    return replace(
        sample,
        id=variant_id(sample, FAMILY, 0),
        input=text,
        metadata=probe_metadata(sample, FAMILY, 0, clause=clause, clause_number=n),
    )
