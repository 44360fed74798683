"""Where a query's terms occur in one text, ignoring case and accents: for marking matches
in a transcript and for telling which messages match, in Python.

A term is looked for as the text typed, folded (``terms.fold``) on both sides, anywhere in
the text: ``claim`` marks "Claims" and "reclaim", ``Muller`` marks "Müller", and a phrase
matches its words in order with any run of white space between them. Marking more than a
word index matches is on purpose: every place the typed text occurs is shown.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .terms import SearchQuery, TermKind, fold


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return fold(char)


def _folded_with_origins(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each of its characters, the index in ``text`` it came from."""
    if text.isascii():
        return text.lower(), list(range(len(text)))
    pieces: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        pieces.append(folded)
        origins.extend([index] * len(folded))
    return "".join(pieces), origins


@lru_cache(maxsize=256)
def _patterns(query: SearchQuery) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for term in query.terms:
        words = [re.escape(fold(word)) for word in term.words]
        words = [word for word in words if word]
        if not words:
            continue
        separator = r"\s+" if term.kind is TermKind.PHRASE else ""
        patterns.append(re.compile(separator.join(words)))
    return tuple(patterns)


def match_spans(text: str, query: SearchQuery) -> list[tuple[int, int]]:
    """The ``[start, end)`` ranges of ``text`` where a term occurs, sorted, merged."""
    patterns = _patterns(query)
    if not patterns or not text:
        return []
    folded, origins = _folded_with_origins(text)
    spans = []
    for pattern in patterns:
        for found in pattern.finditer(folded):
            if found.end() == found.start():
                continue
            start = origins[found.start()]
            end = origins[found.end() - 1] + 1
            # Combining marks after the last character fold to nothing: keep them marked.
            while end < len(text) and not _fold_char(text[end]):
                end += 1
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def matches(text: str, query: SearchQuery) -> bool:
    return bool(match_spans(text, query))


def marked(text: str, query: SearchQuery) -> SafeString:
    """``text`` escaped, with each match inside ``<mark>``."""
    parts: list[str] = []
    position = 0
    for start, end in match_spans(text, query):
        parts.append(escape(text[position:start]))
        parts.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # every piece of the text went through escape()
