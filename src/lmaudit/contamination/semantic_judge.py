"""Optional LLM judge for semantic candidates: is the corpus chunk a copy, a paraphrase or
a translation of the benchmark item, or unrelated?

Every candidate pair (cosine at or above the threshold) becomes one greedy
`GenerateRequest` with a fixed prompt (`judge_prompt`) to any lmaudit backend that can
generate. The verdict is the LAST verdict word in the answer (so "not a copy ... Verdict:
PARAPHRASE" reads as paraphrase); inflections count ("copied", "paraphrased",
"translated"); an answer without any verdict word is "unparsed". Copy, paraphrase and
translation confirm a match; unrelated and unparsed do not.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from lmaudit.contamination.semantic import SemanticMatch, SemanticResult
from lmaudit.core.backend import Backend
from lmaudit.core.types import GenerateRequest, GenerationParams, LmauditError, RequestKind

VERDICTS = ("copy", "paraphrase", "translation", "unrelated")
UNPARSED = "unparsed"
CONFIRMING = frozenset({"copy", "paraphrase", "translation"})
_VERDICT_WORD = re.compile(
    r"\b(?:(cop(?:y|ies|ied))|(paraphras(?:e|es|ed))|(translat(?:ion|ions|ed|e))|(unrelated))\b",
    re.IGNORECASE,
)

JUDGE_PROMPT = """\
You check whether a benchmark item leaked into a training corpus.

Text A is a benchmark item:
<<<
{item}
>>>

Text B is an excerpt of a training corpus:
<<<
{chunk}
>>>

Does text B contain text A, in whole or in large part, as a COPY (the same words), a \
PARAPHRASE (the same content in other words, same language), or a TRANSLATION (the same \
content in another language)? If B only shares the topic or the kind of problem, answer \
UNRELATED. End your answer with one line "Verdict: X" where X is COPY, PARAPHRASE, \
TRANSLATION or UNRELATED.
"""


def judge_prompt(item: str, chunk: str) -> str:
    return JUDGE_PROMPT.format(item=item.strip(), chunk=chunk.strip())


def parse_verdict(answer: str) -> str:
    """The last verdict word of `answer` (one of `VERDICTS`), or "unparsed"."""
    found = list(_VERDICT_WORD.finditer(answer))
    if not found:
        return UNPARSED
    last = found[-1]
    return VERDICTS[next(g for g in range(4) if last.group(g + 1) is not None)]


def check_can_generate(backend: Backend) -> None:
    if RequestKind.GENERATE not in backend.capabilities:
        raise LmauditError(
            f"judge model {backend.fingerprint.key()} cannot generate text; pick a "
            "generative model for --judge"
        )


def judge_pairs(
    backend: Backend, pairs: Sequence[tuple[str, str]], *, max_tokens: int = 48
) -> list[tuple[str, str]]:
    """(verdict, raw answer) for each (item text, chunk text) pair, greedy decoding."""
    check_can_generate(backend)
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    requests = [GenerateRequest(prompt=judge_prompt(a, b), params=params) for a, b in pairs]
    answers = backend.generate(requests) if requests else []
    return [(parse_verdict(g.text), g.text) for g in answers]


def judge_candidates(
    backend: Backend, result: SemanticResult, item_texts: Mapping[str, str],
    *, max_tokens: int = 48,
) -> SemanticResult:
    """`result` with a verdict on every candidate pair (cosine >= threshold) and the judge
    named; pairs below the threshold keep verdict None. `item_texts`: item id -> text."""
    check_can_generate(backend)
    todo: list[tuple[int, int]] = []
    for index in range(len(result.item_ids)):
        for rank, match in enumerate(result.matches[index]):
            if match.cosine >= result.config.threshold:
                todo.append((index, rank))
    pairs = [
        (item_texts[result.item_ids[i]], result.matches[i][r].chunk_text) for i, r in todo
    ]
    verdicts = judge_pairs(backend, pairs, max_tokens=max_tokens)
    matches = [list(found) for found in result.matches]
    for (index, rank), (verdict, answer) in zip(todo, verdicts, strict=True):
        matches[index][rank] = dataclasses.replace(
            matches[index][rank], verdict=verdict, judge_answer=answer
        )
    rebuilt: tuple[tuple[SemanticMatch, ...], ...] = tuple(tuple(m) for m in matches)
    return dataclasses.replace(result, matches=rebuilt, judge=backend.fingerprint.key())
