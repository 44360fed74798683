"""What a person types into a search box, as terms every session found must contain.

- ``refund policy``: two words; each must occur somewhere in the session (AND).
- ``quok*``: a prefix; any word starting with ``quok``.
- ``"refund policy"``: a phrase; the words in that order within one message (or one field).

Matching ignores case and accents ("Muller" finds "Müller"); ``fold`` is that rule on the
Python side, for marking matches in a page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

_TOKEN = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<bare>[^\s"]+)')
_WORD_SEPARATORS = re.compile(r"[\s]+")


class TermKind(Enum):
    WORD = "word"
    PREFIX = "prefix"
    PHRASE = "phrase"


@dataclass(frozen=True)
class Term:
    kind: TermKind
    #: The words as typed (one for a word or a prefix, the prefix without its ``*``).
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class SearchQuery:
    #: The box's text, stripped.
    text: str
    terms: tuple[Term, ...]

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_query(text: str) -> SearchQuery:
    """The terms of ``text``; an unclosed quote runs to the end, a lone ``*`` is ignored."""
    stripped = text.strip()
    terms: list[Term] = []
    for match in _TOKEN.finditer(stripped):
        phrase = match.group("phrase")
        if phrase is not None:
            words = tuple(word for word in _WORD_SEPARATORS.split(phrase.strip()) if word)
            if len(words) == 1:
                terms.append(Term(TermKind.WORD, words))
            elif words:
                terms.append(Term(TermKind.PHRASE, words))
            continue
        bare = match.group("bare")
        if bare.endswith("*"):
            stem = bare.rstrip("*")
            if stem:
                terms.append(Term(TermKind.PREFIX, (stem,)))
        else:
            terms.append(Term(TermKind.WORD, (bare,)))
    return SearchQuery(stripped, tuple(terms))


def fold(text: str) -> str:
    """``text`` as matching sees it: accents removed, case folded (NFKD, then casefold)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
