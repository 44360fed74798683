"""The German and French catalogues: complete, compiled as committed, and used by the admin.

Extraction is redone here in Python (the code's gettext calls via ``ast``, the templates'
``{% translate %}`` tags via Django's own ``templatize``), so that no system gettext is
needed to notice a marked string that the catalogues lack, or one they keep for nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

import graphflow_sessions
from tests.support.admin import chat_context, make_session

PACKAGE = Path(graphflow_sessions.__file__).parent
LANGUAGES = ["de", "fr"]
GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}

# A call with its string arguments, quoted either way ("..." when the text has a ').
GETTEXT_CALL = re.compile(
    r"""\bn?gettext\((?:u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"),? ?)+[^)]*\)"""
)

Message = tuple[str, str | None]  # msgid, msgid_plural


def catalogue(language: str, suffix: str = "po") -> Path:
    return PACKAGE / "locale" / language / "LC_MESSAGES" / f"django.{suffix}"


def calls_in(source: str) -> set[Message]:
    found: set[Message] = set()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in GETTEXT_CALLS
        ):
            continue
        texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
        plural = node.func.id.startswith("ngettext")
        found.add((texts[0], texts[1] if plural else None))
    return found


def marked_in_python() -> set[Message]:
    found: set[Message] = set()
    for path in PACKAGE.rglob("*.py"):
        if "migrations" not in path.parts:
            found |= calls_in(path.read_text(encoding="utf-8"))
    return found


def marked_in_templates() -> set[Message]:
    found: set[Message] = set()
    for path in (PACKAGE / "templates").rglob("*.html"):
        # templatize turns each tag into a gettext(u'...') call amid placeholder letters.
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for call in GETTEXT_CALL.findall(code):
            found |= calls_in(call)
    return found


def translations(entries: polib.POFile | polib.MOFile) -> dict[Message, object]:
    return {
        (entry.msgid, entry.msgid_plural or None): (
            entry.msgstr_plural and dict(entry.msgstr_plural) or entry.msgstr
        )
        for entry in entries
        if entry.msgid
    }


def test_extraction_finds_the_strings_it_should() -> None:
    marked = marked_in_python() | marked_in_templates()

    assert ("Graph-flow sessions", None) in marked
    assert ("Show all", None) in marked
    assert ("Page %(number)s of %(total)s", None) in marked
    assert ("%(count)d line", "%(count)d lines") in marked


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_holds_every_marked_string_and_no_other(language: str) -> None:
    in_catalogue = set(translations(polib.pofile(str(catalogue(language)))))

    marked = marked_in_python() | marked_in_templates()

    assert sorted(marked - in_catalogue, key=str) == []
    assert sorted(in_catalogue - marked, key=str) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_and_none_is_fuzzy(language: str) -> None:
    po = polib.pofile(str(catalogue(language)))

    assert [entry.msgid for entry in po.untranslated_entries()] == []
    assert [entry.msgid for entry in po.fuzzy_entries()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(language: str) -> None:
    po = translations(polib.pofile(str(catalogue(language))))
    mo = translations(polib.mofile(str(catalogue(language, "mo"))))

    assert mo == po


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_translation_keeps_the_placeholders_of_its_original(language: str) -> None:
    placeholder = re.compile(r"%\(\w+\)[-.\d]*[sdrf]|\{\w+\}")
    for entry in polib.pofile(str(catalogue(language))):
        wanted = sorted(placeholder.findall(entry.msgid_plural or entry.msgid))
        for text in entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]:
            assert sorted(placeholder.findall(text)) == wanted, (entry.msgid, text)


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("de", "1 Zeile abgelehnt", "2 Zeilen abgelehnt"),
        ("fr", "1 ligne rejetée", "2 lignes rejetées"),
    ],
)
def test_counts_use_the_languages_plural_forms(language: str, one: str, two: str) -> None:
    with translation.override(language):
        said = [
            translation.ngettext(
                "%(summary)s; %(count)d line rejected.", "%(summary)s; %(count)d lines rejected.", n
            )
            % {"summary": "", "count": n}
            for n in (1, 2)
        ]

    assert one in said[0] and two in said[1]


# The admin, in the browser's language ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "app", "model"),
    [("de", "Graph-flow-Sitzungen", "Sitzungen"), ("fr", "Sessions graph-flow", "sessions")],
)
def test_the_admin_names_the_app_and_model_in_the_browsers_language(
    admin_client, language: str, app: str, model: str
) -> None:
    html = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert app in html
    assert f">{model.capitalize()}<" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "empty", "broken"),
    [
        (
            "de",
            "Geben Sie den Kontext als JSON ein.",
            "Der Kontext folgt nicht dem graph-flow-Vertrag: ",
        ),
        (
            "fr",
            "Saisissez le contexte en JSON.",
            "Le contexte ne respecte pas le contrat graph-flow : ",
        ),
    ],
)
def test_the_admin_form_errors_come_in_the_browsers_language(
    admin_client, language: str, empty: str, broken: str
) -> None:
    session = make_session(context=chat_context(1))
    url = reverse("admin:graphflow_sessions_session_change", args=[session.pk])
    form = {
        "graph_id": session.graph_id,
        "current_task_id": session.current_task_id,
        "status_message": "",
        "expected_version": session.version,
        "_save": "Save",
    }

    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_ALLOW_EDITS": True}):
        pages = [
            admin_client.post(url, {**form, "context_json": text}, HTTP_ACCEPT_LANGUAGE=language)
            for text in ("", "{not json")
        ]

    assert [page.status_code for page in pages] == [200, 200]
    assert empty in pages[0].content.decode()
    assert broken in pages[1].content.decode()
