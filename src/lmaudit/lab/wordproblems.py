"""Stand-in arithmetic word problems with the shape of `lmaudit.tasks.arith` items.

Eight templates of varied difficulty (one or two operations; +, -, x, /) after one of eight
introductory sentences, 25-45 words, with names, objects and numbers drawn from a seeded
RNG; answers are integers written in canonical form. Splits are disjoint by question
text: `test` is generated first, `ref` excludes it, `train` excludes both (at their default
sizes). `load_split(split, n)` returns the first `n` items of the split's deterministic
stream, so smaller requests are prefixes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from lmaudit.core.types import LmauditError

SPLIT_ORDER = ("test", "ref", "train")
DEFAULT_SIZES: Mapping[str, int] = {"test": 100, "ref": 100, "train": 2000}

NAMES = (
    "Mia", "Leo", "Ava", "Noah", "Emma", "Liam", "Zoe", "Omar", "Sara", "Ivan", "Nina", "Tom",
    "Lucy", "Ben", "Aisha", "Carlos", "Hana", "Raj", "Elena", "Sam", "Grace", "Kofi", "Yuki",
    "Pablo", "Maya", "Felix", "Iris", "Jonas", "Lena", "Marco",
)
OBJECTS = (
    "apples", "marbles", "stickers", "pencils", "cookies", "books", "stamps", "shells",
    "cards", "beads", "eggs", "coins", "buttons", "candles", "plums", "balloons",
)
ITEMS = ("bike", "game", "lamp", "kite", "radio", "jacket", "tent", "camera")
INTROS = (
    "On Saturday morning {name} walks to the market with a big bag.",
    "It is a busy week at school for {name} and {friend}.",
    "{name} likes to keep careful notes in a small blue notebook.",
    "After lunch {name} sits down at the kitchen table to count.",
    "The summer fair opens today and {name} is there early.",
    "{name} and {friend} are planning a party for the whole class.",
    "On a rainy afternoon {name} decides to tidy the old shed.",
    "Every spring {name} helps out at the village shop.",
)

Variables = dict[str, int | str]


@dataclass(frozen=True)
class WordProblem:
    """One stand-in item; `answer` is the canonical integer string."""

    id: str
    question: str
    answer: str
    template_id: str
    variables: Mapping[str, int | str] = field(compare=False, hash=False)


def _add(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(12, 250), r.randint(12, 250)
    n, f, o = v["name"], v["friend"], v["obj"]
    return f"{n} has {a} {o}. {f} gives {n} {b} more {o}. How many {o} does {n} have now?", a + b


def _subtract(v: Variables, r: random.Random) -> tuple[str, int]:
    a = r.randint(40, 400)
    b = r.randint(5, a - 5)
    v["a"], v["b"] = a, b
    n, f, o = v["name"], v["friend"], v["obj"]
    q = f"{n} had {a} {o} and gave {b} of them to {f}. How many {o} does {n} have left?"
    return q, a - b


def _multiply(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(3, 24), r.randint(3, 24)
    n, o = v["name"], v["obj"]
    q = f"A box holds {a} {o}. {n} fills {b} boxes to the top. How many {o} are in the boxes?"
    return q, a * b


def _change(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(2, 9), r.randint(2, 12)
    c = v["c"] = r.choice([note for note in (50, 100, 200) if note > a * b])
    n, o = v["name"], v["obj"]
    q = (f"{n} buys {a} {o} at {b} dollars each and pays with a {c} dollar note. "
         f"How many dollars of change does {n} get?")
    return q, c - a * b


def _reading(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(10, 90), r.randint(10, 90)
    n = v["name"]
    q = (f"{n} reads {a} pages on Monday and {b} pages on Tuesday. On Wednesday {n} reads "
         f"twice as many pages as on Monday. How many pages does {n} read in the three days?")
    return q, 3 * a + b


def _share(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(3, 30), r.randint(2, 12)
    n, f, o = v["name"], v["friend"], v["obj"]
    q = (f"{n} shares {a * b} {o} equally among {b} friends, {f} among them. "
         f"How many {o} does each friend get?")
    return q, a


def _chairs(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(4, 20), r.randint(4, 20)
    c = v["c"] = r.randint(1, a * b - 1)
    n = v["name"]
    q = (f"A hall has {a} rows of chairs with {b} chairs in each row. {n} counts {c} empty "
         f"chairs. How many chairs are taken?")
    return q, a * b - c


def _savings(v: Variables, r: random.Random) -> tuple[str, int]:
    a, b = v["a"], v["b"] = r.randint(5, 40), r.randint(2, 15)
    c = v["c"] = r.randint(1, a * b)
    item = v["item"] = r.choice(ITEMS)
    n = v["name"]
    q = (f"{n} saves {a} dollars every week for {b} weeks and then spends {c} dollars on a "
         f"{item}. How many dollars does {n} have left?")
    return q, a * b - c


TEMPLATES: tuple[Callable[[Variables, random.Random], tuple[str, int]], ...] = (
    _add, _subtract, _multiply, _change, _reading, _share, _chairs, _savings,
)


def instantiate(template: int, rng: random.Random) -> WordProblem:
    """Draw one item of template `template` (id left empty)."""
    name, friend = rng.sample(NAMES, 2)
    variables: Variables = {"name": name, "friend": friend, "obj": rng.choice(OBJECTS)}
    intro = rng.randrange(len(INTROS))
    variables["intro"] = intro
    question, answer = TEMPLATES[template](variables, rng)
    question = INTROS[intro].format(name=name, friend=friend) + " " + question
    return WordProblem("", question, str(answer), f"t{template}", variables)


@cache
def _split_stream(split: str, n: int) -> tuple[WordProblem, ...]:
    earlier = SPLIT_ORDER[: SPLIT_ORDER.index(split)]
    excluded = {p.question for s in earlier for p in _split_stream(s, DEFAULT_SIZES[s])}
    rng = random.Random(f"lmaudit-lab-wordproblems-{split}")
    items: list[WordProblem] = []
    while len(items) < n:
        item = instantiate(rng.randrange(len(TEMPLATES)), rng)
        if item.question in excluded:
            continue
        excluded.add(item.question)
        items.append(WordProblem(f"{split}-{len(items):05d}", item.question, item.answer,
                                 item.template_id, item.variables))
    return tuple(items)


def load_split(split: str, n: int | None = None) -> list[WordProblem]:
    """The first `n` items (default: 100 test, 100 ref, 2000 train) of a split."""
    if split not in DEFAULT_SIZES:
        raise LmauditError(f"unknown split {split!r}: use one of test, ref, train")
    if n is not None and n < 0:
        raise LmauditError(f"the number of items must be >= 0, got {n}")
    return list(_split_stream(split, DEFAULT_SIZES[split] if n is None else n))


def format_document(item: WordProblem) -> str:
    """The training text of one item: `Question: <question>\\nAnswer: <answer>`."""
    return f"Question: {item.question}\nAnswer: {item.answer}"
