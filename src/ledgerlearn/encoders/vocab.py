"""Word tokenisation and vocabulary building for vocabulary encoders.

:func:`word_tokens` is the tokenisation of ``"IMDB vocab"`` (used both to
build the vocabulary and to encode with it):

1. lower-case;
2. replace the HTML line break ``<br />`` with a space (IMDB reviews are full
   of them; without this step "br" would become a frequent word);
3. replace each of ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~``, tab and newline with a
   space (the filter Keras's text tokenizer uses; apostrophes stay, so
   "don't" is one word);
4. split on white space.

Splitting on white space alone keeps punctuation glued to words ("movie,",
"great!"), so those words miss the vocabulary: on IMDB that costs about 2
points of accuracy. (The ``"MurmurHash3"`` encoder keeps the plain
lower-case/white-space tokenisation its specification gives.)

:func:`build_vocab` ranks words by how often they occur (every occurrence
counts), most frequent first; words with the same count are ordered
alphabetically (by code point), so the result depends only on the multiset of
words, not on the order of the texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ledgerlearn.errors import ValidationError

#: Characters replaced by a space before splitting (Keras's default filter).
FILTERED_CHARS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_FILTER = str.maketrans({c: " " for c in FILTERED_CHARS})
_LINE_BREAK = "<br />"


def word_tokens(text: str) -> list[str]:
    """The words of ``text`` for a vocabulary encoder (see the module docstring)."""
    if not isinstance(text, str):
        raise ValidationError(f"text: expected a string, got {type(text).__name__}")
    return text.lower().replace(_LINE_BREAK, " ").translate(_FILTER).split()


def build_vocab(texts: Iterable[str], size: int = 1000) -> dict[str, int]:
    """The ``size`` most frequent words of ``texts`` -> their frequency rank.

    Index 0 is the most frequent word; ties in count are broken
    alphabetically. Fewer than ``size`` distinct words give a smaller
    vocabulary.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValidationError(f"size: expected a positive integer, got {size!r}")
    if isinstance(texts, str):
        raise ValidationError("texts: expected a list of strings, got one string")
    try:
        items = iter(texts)
    except TypeError:
        raise ValidationError(f"texts: expected a list of strings, got {type(texts).__name__}") from None
    counts: Counter[str] = Counter()
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise ValidationError(f"texts[{i}]: expected a string, got {type(text).__name__}")
        counts.update(word_tokens(text))
    ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:size]
    return {w: i for i, (w, _) in enumerate(ranked)}
