"""Marking matches in a text: folded like the search, escaped, mapped back to the original."""

from __future__ import annotations

from graphflow_sessions.search.marks import marked, match_spans
from graphflow_sessions.search.terms import parse_query


def _marked(text: str, query: str) -> str:
    return str(marked(text, parse_query(query)))


def test_words_are_marked_ignoring_case():
    assert _marked("Claim CLAIMED reclaim", "claim") == (
        "<mark>Claim</mark> <mark>CLAIM</mark>ED re<mark>claim</mark>"
    )


def test_accents_fold_on_both_sides_and_marks_cover_the_original_characters():
    assert _marked("Herr Müller", "muller") == "Herr <mark>Müller</mark>"
    assert _marked("Herr Muller", "MÜLLER") == "Herr <mark>Muller</mark>"
    # A decomposed accent (e + combining acute) stays inside the mark.
    assert _marked("cafe\u0301 noir", "cafe") == "<mark>cafe\u0301</mark> noir"
    # One character folding to two (ß -> ss) maps back to the one.
    assert _marked("Straße 5", "strasse") == "<mark>Straße</mark> 5"


def test_non_latin_scripts_are_marked():
    assert _marked("Привет, МИР", "мир") == "Привет, <mark>МИР</mark>"
    assert _marked("東京都に住んでいます", "京都") == "東<mark>京都</mark>に住んでいます"


def test_a_phrase_marks_its_words_in_order_across_any_white_space():
    assert _marked("the refund\n  policy, not policy refund", '"refund policy"') == (
        "the <mark>refund\n  policy</mark>, not policy refund"
    )


def test_a_prefix_marks_its_stem():
    assert _marked("quokka quack", "quok*") == "<mark>quok</mark>ka quack"


def test_overlapping_terms_make_one_mark():
    assert match_spans("abcd", parse_query("abc bcd")) == [(0, 4)]


def test_everything_else_is_escaped():
    assert _marked('<b>x</b> & "y"', "x") == "&lt;b&gt;<mark>x</mark>&lt;/b&gt; &amp; &quot;y&quot;"
    assert _marked("<script>", "script") == "&lt;<mark>script</mark>&gt;"


def test_no_term_no_mark():
    assert _marked("a <b>", "") == "a &lt;b&gt;"
    assert match_spans("", parse_query("x")) == []
