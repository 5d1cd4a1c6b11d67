"""GPT-3 style text normalization for n-gram overlap (Brown et al. 2020, appendix C).

Convention (the one of lm-evaluation-harness's `Janitor`): ASCII letters are lower-cased,
the 32 ASCII punctuation characters of `string.punctuation` are deleted (so "don't" becomes
"dont" and "16-3" becomes "163"), and words are the runs of bytes above 0x20 (so ASCII
space and control characters, tab and newline included, separate words; the reference
splits on Unicode whitespace, which differs only for non-ASCII spaces such as U+00A0). Non-ASCII
characters are kept as they are (so "Janet’s" stays "janet’s"), as in the reference.

Everything works on UTF-8 bytes so that a whole chunk of corpus is normalized with one
`bytes.translate` call. The NUL byte is reserved as the document separator inside a chunk
(`DOC_SEPARATOR`); like every control character it separates words.
"""

from __future__ import annotations

import re
import string

DOC_SEPARATOR = b"\x00"
_SEPARATORS = re.compile(rb"[\x00-\x20]+")

_LOWER = bytes(range(256)).translate(
    bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
)
_DELETE = string.punctuation.encode()


def normalize_bytes(data: bytes) -> bytes:
    """Lower-case ASCII letters and delete ASCII punctuation in UTF-8 bytes."""
    return data.translate(_LOWER, _DELETE)


def normalize_text(text: str) -> str:
    """`normalize_bytes` for a str (non-ASCII characters untouched)."""
    return normalize_bytes(text.encode("utf-8")).decode("utf-8")


def normalized_words(text: str) -> list[str]:
    """The words of `text` after normalization, in order."""
    parts = _SEPARATORS.split(normalize_bytes(text.encode("utf-8")))
    return [w.decode("utf-8") for w in parts if w]
