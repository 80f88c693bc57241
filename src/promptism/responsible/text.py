"""Text as the prompt policy reads it: one spelling for the many ways a word can be written.

``forms(text)`` gives the two lower-case forms every policy rule is matched against, after:

- Unicode NFKC (full-width and ligature letters become plain ones);
- removing invisible format characters (zero-width spaces and joiners, soft hyphens, direction marks);
- folding letters that look like Latin ones (Cyrillic ``е``, Greek ``ο``) into them, and dropping accents;
- dropping apostrophes (``Obama's`` reads ``obamas``);
- punctuation between two letters either joined (``n.u.d.e`` reads ``nude``) or made a space
  (``blue-green`` reads ``blue green``): one form each, so both spellings are caught.

``cased(text)`` is the same text with its capitals kept (the joined form), for rules that need them.
"""

from __future__ import annotations

import re
import unicodedata

# Letters of other scripts drawn like Latin ones (after Unicode's confusables list, the Cyrillic
# and Greek letters in everyday fonts), mapped to the Latin letter they pass for.
_LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ʏ": "y", "ɡ": "g", "ı": "i",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Һ": "H", "Ԛ": "Q",
    "Ԝ": "W", "Ӏ": "I",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
_FOLD = str.maketrans(_LOOKALIKES)
_APOSTROPHES = re.compile(r"['’‘ʼ`´]")
_INSIDE = re.compile(r"(?<=\w)[^\w\s]+(?=\w)")  # punctuation between two letters or digits
_PUNCT = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def _plain(text: str) -> str:
    """NFKC, invisible characters removed, look-alike letters folded, accents dropped, no apostrophes."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = text.translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _APOSTROPHES.sub("", text)


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()


def cased(text: str) -> str:
    """The joined form with its capitals kept."""
    return _tidy(_INSIDE.sub("", _plain(text)))


def forms(text: str) -> tuple[str, str]:
    """The joined and the spaced lower-case forms of a text (the same string twice when it has no
    punctuation inside a word)."""
    plain = _plain(text).casefold()
    return _tidy(_INSIDE.sub("", plain)), _tidy(_INSIDE.sub(" ", plain))
