import pytest

from graphflow_sessions.search.terms import Term, TermKind, fold, parse_query

pytestmark = pytest.mark.database_independent


def test_words_are_separate_terms() -> None:
    query = parse_query("  refund   Müller ")
    assert query.text == "refund   Müller"
    assert query.terms == (
        Term(TermKind.WORD, ("refund",)),
        Term(TermKind.WORD, ("Müller",)),
    )


def test_a_trailing_star_makes_a_prefix_and_a_lone_star_is_ignored() -> None:
    assert parse_query("quok* *").terms == (Term(TermKind.PREFIX, ("quok",)),)


def test_quotes_make_a_phrase_of_several_words() -> None:
    query = parse_query('"refund  policy" late "single"')
    assert query.terms == (
        Term(TermKind.PHRASE, ("refund", "policy")),
        Term(TermKind.WORD, ("late",)),
        Term(TermKind.WORD, ("single",)),
    )
    assert query.terms[0].text == "refund policy"


def test_an_unclosed_quote_runs_to_the_end() -> None:
    assert parse_query('late "refund policy').terms[1] == Term(
        TermKind.PHRASE, ("refund", "policy")
    )


def test_blank_and_empty_quotes_have_no_terms() -> None:
    assert not parse_query('  "" ')
    assert not parse_query("")


def test_fold_ignores_case_and_accents() -> None:
    assert fold("MÜLLER Ångström") == fold("muller angstrom") == "muller angstrom"
    assert fold("Straße") == "strasse"
    assert fold("Привет") == "привет"
