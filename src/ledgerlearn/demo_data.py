"""A small generated sentiment data set for the demo and the tests.

Real data sets (IMDB, MNIST, ...) are downloaded and verified by
``ledgerlearn.datasets``; this one is generated deterministically from word
lists so the demo runs offline in seconds. Reviews mix sentiment words with
neutral filler; about 3% of labels are flipped so no model is perfect.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIVE = (
    "great excellent wonderful superb brilliant enjoyable delightful moving charming funny "
    "beautiful masterpiece loved gripping clever touching stunning fantastic memorable fresh"
).split()
NEGATIVE = (
    "awful terrible boring dull waste poor bad worst mess predictable "
    "clumsy tedious weak annoying forgettable stupid ugly painful lame disappointing"
).split()
NEUTRAL = (
    "the movie film plot actor actress scene story director script camera music ending "
    "character cast time minutes watch saw it was and a of with this that really quite"
).split()


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 1 positive, 0 negative


def generate(n: int, *, seed: int = 0, noise: float = 0.03, length: tuple[int, int] = (8, 20)) -> list[Review]:
    """``n`` reviews, balanced classes, reproducible for a given seed."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % 2
        own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        words = [rng.choice(NEUTRAL) for _ in range(rng.randint(*length))]
        for _ in range(rng.randint(3, 5)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(own))
        if rng.random() < 0.2:  # mixed feelings
            words.insert(rng.randrange(len(words) + 1), rng.choice(other))
        if rng.random() < noise:
            label = 1 - label
        out.append(Review(" ".join(words), label))
    rng.shuffle(out)
    return out
