"""Filler English for the lab corpus: short paragraphs of simple, varied sentences.

A small probabilistic grammar (people, animals, places, times, actions, descriptions) so
the lab model learns ordinary word order and not only the benchmark template. Numbers
appear only as small counts, never as arithmetic.
"""

from __future__ import annotations

import random

from lmaudit.lab.wordproblems import NAMES, OBJECTS

ANIMALS = ("dog", "cat", "horse", "rabbit", "fox", "owl", "goat", "duck", "bear", "mouse")
PLACES = (
    "the market", "the park", "the river", "the library", "the garden", "the station",
    "the beach", "the forest", "the old bridge", "the school", "the bakery", "the harbour",
)
TIMES = (
    "in the morning", "at noon", "in the evening", "on Sunday", "after school", "at night",
    "before dinner", "in the spring", "last winter", "every day",
)
ADJECTIVES = (
    "small", "quiet", "bright", "old", "happy", "tired", "green", "warm", "busy", "gentle",
    "cold", "tall", "careful", "noisy", "lucky",
)
VERBS_PAST = (
    "walked to", "ran to", "looked at", "painted", "cleaned", "visited", "drew", "found",
    "watched", "remembered", "left", "passed",
)
ACTIVITIES = (
    "read a book", "sing a song", "bake bread", "plant flowers", "fix the fence",
    "write a letter", "fly a kite", "feed the ducks", "play chess", "climb a hill",
)
WEATHER = ("sunny", "windy", "rainy", "cloudy", "foggy", "snowy")
FEELINGS = ("glad", "surprised", "sleepy", "proud", "curious", "calm")


def _sentence(rng: random.Random) -> str:
    name, other = rng.sample(NAMES, 2)
    animal, place, time = rng.choice(ANIMALS), rng.choice(PLACES), rng.choice(TIMES)
    adjective, verb = rng.choice(ADJECTIVES), rng.choice(VERBS_PAST)
    kind = rng.randrange(10)
    if kind == 0:
        return f"{name} {verb} {place} {time}."
    if kind == 1:
        return f"The {adjective} {animal} slept near {place}."
    if kind == 2:
        return f"{time.capitalize()}, {name} and {other} like to {rng.choice(ACTIVITIES)}."
    if kind == 3:
        return f"It was {rng.choice(WEATHER)} {time}, so {name} stayed at home."
    if kind == 4:
        return f"{name} saw a {adjective} {animal} by {place} and felt {rng.choice(FEELINGS)}."
    if kind == 5:
        return f"There are {rng.randint(2, 9)} {rng.choice(OBJECTS)} on the table in {place}."
    if kind == 6:
        return f"{name} asked {other} to {rng.choice(ACTIVITIES)} {time}."
    if kind == 7:
        return f"The road to {place} is long and {adjective}."
    if kind == 8:
        return f"{name} keeps some {rng.choice(OBJECTS)} in a {adjective} box."
    return f"When {name} came back from {place}, the {animal} was {adjective}."


def filler_documents(n: int, seed: int = 0) -> list[str]:
    """`n` paragraphs of 3-6 sentences each, deterministic for a given seed."""
    rng = random.Random(f"lmaudit-lab-filler-{seed}")
    return [" ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) for _ in range(n)]
