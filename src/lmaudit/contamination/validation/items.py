"""Generated benchmark items for the validation lab, and the four forms they are planted in.

Items come from five families of varied difficulty (how predictable their words are to a
model that knows the corpus' English but has never seen the item):

- `errand` (easy): common words only; the answer is a place.
- `packing` (medium): four objects in order; the answer is the third.
- `shopping` (medium): three random numbers; the answer is their sum and difference.
- `town` (hard): three invented names (random syllables).
- `locker` (hardest): a random letter-digit code.

Every item is at least 13 words long and each of its templates has a drawn value at least
every few words, so two different items share no 13-gram of template text.

Forms, the text that is planted in the contaminated corpus:

- `verbatim`: `Question: <question>\\nAnswer: <answer>` (the benchmark document).
- `question`: `Question: <question>` (the inputs leaked without their answers).
- `paraphrase`: the same facts rewritten by a rule set written for each family (other
  clause order, synonyms); it shares no 13-gram with the benchmark document under the
  n-gram scan's normalization (`lmaudit.contamination.normalize`), checked on creation.
- `mapped`: the benchmark document "translated" by `WordMapping`: every word (a run of
  ASCII letters) replaced by a nonsense word through a fixed, seeded bijection; digits,
  punctuation and spacing unchanged (numbers read the same in every language).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lmaudit.contamination.normalize import normalized_words
from lmaudit.lab.filler import ADJECTIVES, ANIMALS, PLACES, TIMES, WEATHER
from lmaudit.lab.wordproblems import NAMES, OBJECTS

FORMS = ("verbatim", "question", "paraphrase", "mapped")
FAMILIES = ("errand", "packing", "shopping", "town", "locker")
DIFFICULTY = {"errand": 1, "packing": 2, "shopping": 3, "town": 4, "locker": 5}
NGRAM = 13
COLOURS = (
    "red", "blue", "yellow", "brown", "grey", "white", "black", "orange", "pink", "purple",
)
THINGS = (
    *OBJECTS, "spoons", "maps", "socks", "gloves", "scarves", "cups", "plates", "ribbons",
    "keys", "brushes", "jars", "kites", "bells", "hats",
)
_SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class BenchmarkItem:
    """One generated item and its paraphrase (question and answer of each)."""

    id: str
    family: str
    question: str
    answer: str
    paraphrase_question: str
    paraphrase_answer: str

    @property
    def difficulty(self) -> int:
        """1 (common words) to 5 (random codes)."""
        return DIFFICULTY[self.family]

    @property
    def document(self) -> str:
        """The benchmark document: what a detector scores and the verbatim form plants."""
        return qa_document(self.question, self.answer)

    @property
    def paraphrase_document(self) -> str:
        return qa_document(self.paraphrase_question, self.paraphrase_answer)


def qa_document(question: str, answer: str) -> str:
    return f"Question: {question}\nAnswer: {answer}"


def _invented(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


Texts = tuple[str, str, str, str]


def _errand(rng: random.Random) -> Texts:
    name, pet = rng.sample(NAMES, 2)
    place, time, adjective = rng.choice(PLACES), rng.choice(TIMES), rng.choice(ADJECTIVES)
    animal, weather, hours = rng.choice(ANIMALS), rng.choice(WEATHER), rng.randint(2, 12)
    question = (
        f"{name} walked to {place} {time} with a {adjective} {animal} called {pet} and "
        f"stayed {hours} hours until it was {weather}. Where did {name} walk {time}?"
    )
    paraphrase = (
        f"{time.capitalize()}, {name} and {pet}, a {adjective} {animal}, went over to "
        f"{place}; {hours} hours later {pet} noticed the {weather} weather. Where did "
        f"{name} and {pet} go {time}?"
    )
    return question, f"To {place} with {pet}.", paraphrase, f"They went to {place}."


def _packing(rng: random.Random) -> Texts:
    name, place, time = rng.choice(NAMES), rng.choice(PLACES), rng.choice(TIMES)
    adjective, colour = rng.choice(ADJECTIVES), rng.choice(COLOURS)
    first, second, third, fourth = rng.sample(THINGS, 4)
    question = (
        f"Before leaving for {place} {time}, {name} packed {first}, {second}, {third} and "
        f"{fourth} into a {adjective} {colour} box. What did {name} pack third?"
    )
    paraphrase = (
        f"{name} filled a {colour} box, quite {adjective}, for {place} {time}: {first} "
        f"first, then {second}, then {third}, and finally {fourth}. Which thing did {name} "
        f"put in after the {second}?"
    )
    return question, f"The {third}.", paraphrase, f"The {third}, just before the {fourth}."


def _shopping(rng: random.Random) -> Texts:
    name, friend = rng.sample(NAMES, 2)
    thing, place = rng.choice(OBJECTS), rng.choice(PLACES)
    had, bought = rng.randint(12, 250), rng.randint(12, 250)
    given = rng.randint(5, had + bought - 1)
    left = had + bought - given
    question = (
        f"{name} had {had} {thing} and bought {bought} more at {place}. Later {name} gave "
        f"{given} of them to {friend}. How many {thing} does {name} have now?"
    )
    paraphrase = (
        f"{friend} received {given} {thing} from {name}, who started out with {had} and "
        f"then purchased another {bought} at {place}. What number of {thing} does {name} "
        "still own?"
    )
    return question, str(left), paraphrase, f"{name} still owns {left}."


def _town(rng: random.Random) -> Texts:
    town, river = _invented(rng, rng.randint(2, 3)), _invented(rng, 2)
    mayor = f"{_invented(rng, 2)} {_invented(rng, rng.randint(2, 3))}"
    adjective = rng.choice(ADJECTIVES)
    question = (
        f"In an old story, the {adjective} town of {town} lies beside the river {river}, "
        f"and its mayor is {mayor}. Who is the mayor of {town}?"
    )
    paraphrase = (
        f"{mayor} serves as head of {town}, a {adjective} place on the banks of the "
        f"{river} in a tale told long ago. Name the leader of {town}."
    )
    return question, mayor, paraphrase, f"The leader is {mayor}."


def _locker(rng: random.Random) -> Texts:
    name, place, adjective = rng.choice(NAMES), rng.choice(PLACES), rng.choice(ADJECTIVES)
    locker, other = rng.sample(range(2, 99), 2)
    code = " ".join(
        rng.choice("abcdefghjkmnpqrstuvwxyz") + str(rng.randint(0, 9)) for _ in range(3)
    )
    question = (
        f"The code for locker {locker} at {place} is {code}, and {name} keeps the code "
        f"for locker {other} in a {adjective} notebook. Which code opens locker {locker}?"
    )
    paraphrase = (
        f"In a {adjective} notebook {name} has written how to open locker {other}; locker "
        f"{locker} at {place}, however, opens with {code}. Tell me the secret of locker "
        f"{locker}."
    )
    return question, code, paraphrase, f"Use {code}."


_FAMILY_MAKERS: Mapping[str, Callable[[random.Random], Texts]] = {
    "errand": _errand, "packing": _packing, "shopping": _shopping,
    "town": _town, "locker": _locker,
}


def word_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """The word n-grams of `text` under the n-gram scan's normalization."""
    words = normalized_words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def shared_ngrams(text_a: str, text_b: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """Word n-grams (scan normalization) that occur in both texts."""
    return word_ngrams(text_a, n) & word_ngrams(text_b, n)


def generate_items(n: int, *, seed: int = 0, prefix: str = "item") -> list[BenchmarkItem]:
    """`n` items, families in turn (so any prefix is balanced), deterministic for a seed.

    No two items of one call share a 13-gram (between their documents or paraphrases):
    a draw that would is replaced by the next one, so the n-gram scan finds an item in a
    corpus only through a copy of that item.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"lmaudit-validation-items-{seed}")
    seen: set[tuple[str, ...]] = set()
    items: list[BenchmarkItem] = []
    while len(items) < n:
        family = FAMILIES[len(items) % len(FAMILIES)]
        question, answer, p_question, p_answer = _FAMILY_MAKERS[family](rng)
        item = BenchmarkItem(
            f"{prefix}-{len(items):05d}", family, question, answer, p_question, p_answer
        )
        grams, p_grams = word_ngrams(item.document), word_ngrams(item.paraphrase_document)
        if grams & p_grams:
            raise AssertionError(f"family {family}: paraphrase shares a {NGRAM}-gram")
        if grams & seen or p_grams & seen:
            continue
        seen |= grams | p_grams
        items.append(item)
    return items


@dataclass(frozen=True)
class WordMapping:
    """A bijection from lower-cased words to nonsense words (runs of ASCII letters).

    Built from a vocabulary and a seed: the vocabulary is sorted and every word gets the
    next unused nonsense word of 2-4 random syllables that is not itself in the
    vocabulary or in `reserved`. The same vocabulary and seed give the same mapping.
    """

    forward: Mapping[str, str]
    seed: int

    @classmethod
    def build(
        cls, vocabulary: Iterable[str], seed: int, reserved: Iterable[str] = ()
    ) -> WordMapping:
        words = sorted({w.lower() for w in vocabulary})
        taken = set(words) | {w.lower() for w in reserved}
        rng = random.Random(f"lmaudit-validation-wordmap-{seed}")
        forward: dict[str, str] = {}
        for word in words:
            while True:
                candidate = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
                if candidate not in taken:
                    break
            taken.add(candidate)
            forward[word] = candidate
        return cls(forward, seed)

    @classmethod
    def for_texts(
        cls, texts: Iterable[str], seed: int, reserved: Iterable[str] = ()
    ) -> WordMapping:
        """The mapping over every word of `texts`."""
        return cls.build((w for t in texts for w in text_words(t)), seed, reserved)

    def inverse(self) -> dict[str, str]:
        return {v: k for k, v in self.forward.items()}

    def apply(self, text: str) -> str:
        """`text` with every word mapped, its capitalization (lower, Title, UPPER) kept."""
        return _replace_words(text, self.forward)

    def invert(self, text: str) -> str:
        return _replace_words(text, self.inverse())


def text_words(text: str) -> list[str]:
    """The words `WordMapping` maps: runs of ASCII letters."""
    return _WORD.findall(text)


def _replace_words(text: str, table: Mapping[str, str]) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        try:
            mapped = table[word.lower()]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the mapping's vocabulary") from None
        if word.isupper() and len(word) > 1:
            return mapped.upper()
        return mapped.capitalize() if word[0].isupper() else mapped

    return _WORD.sub(swap, text)


def form_document(item: BenchmarkItem, form: str, mapping: WordMapping | None = None) -> str:
    """The text planted for `item` in `form` (`mapping` is needed for `mapped`)."""
    if form == "verbatim":
        return item.document
    if form == "question":
        return f"Question: {item.question}"
    if form == "paraphrase":
        return item.paraphrase_document
    if form == "mapped":
        if mapping is None:
            raise ValueError("the mapped form needs a WordMapping")
        return mapping.apply(item.document)
    raise ValueError(f"unknown form {form!r}: use one of {', '.join(FORMS)}")
