"""The edit form (only with ``ADMIN_ALLOW_EDITS``): the context is edited as JSON text and
validated with the same code every other write path uses, so the admin cannot store what a
graph-flow service could not read. A form with errors saves nothing."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..conf import app_settings
from ..contract.codec import check_context, read_context
from ..contract.types import Context
from ..exceptions import GraphFlowSessionsError
from ..models import Session


class ContextJSONField(forms.CharField):
    """The context as JSON text; cleans to a :class:`Context`."""

    widget = forms.Textarea(attrs={"rows": 24, "class": "gfs-json-input", "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Context):
            value = value.to_dict()
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            raise forms.ValidationError(_("Enter the context as JSON."), code="required")
        try:
            context = check_context(read_context(text), max_bytes=app_settings.MAX_CONTEXT_BYTES)
        except GraphFlowSessionsError as exc:
            raise forms.ValidationError(
                _("The context does not follow the graph-flow contract: %(error)s"),
                code="invalid_context",
                params={"error": str(exc)},
            ) from exc
        return context

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return read_context(data) != (
                initial if isinstance(initial, Context) else Context.from_dict(initial)
            )
        except GraphFlowSessionsError:
            return True


class SessionForm(forms.ModelForm):
    # Not the model field itself: loading a stored context that breaks the contract into the
    # form must not fail, it must show the JSON so it can be repaired.
    context_json = ContextJSONField(label=_("context"))
    # The version the editor read: saving over a newer one is refused (a graph-flow service
    # may have moved the session on meanwhile).
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Session
        fields = ["graph_id", "current_task_id", "status_message"]
        widgets = {
            "graph_id": forms.TextInput(attrs={"class": "vTextField"}),
            "current_task_id": forms.TextInput(attrs={"class": "vLargeTextField gfs-wide"}),
            "status_message": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.initial.setdefault("context_json", Context().to_dict())
        else:
            self.initial.setdefault("context_json", self.instance.raw_context)
            self.fields["expected_version"].initial = self.instance.version

    def clean_status_message(self) -> str | None:
        # graph-flow writes NULL for "no message" (Option<String>), never an empty string.
        return self.cleaned_data.get("status_message") or None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        expected = cleaned.get("expected_version")
        if self.instance._state.adding or expected is None:
            return cleaned
        # Runs inside the admin's transaction: the lock holds until the save commits.
        current = (
            Session.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if current is not None and current != expected:
            raise forms.ValidationError(
                _(
                    "This session was saved by someone else while you edited it (version "
                    "%(expected)s is now %(current)s). Reload the page to see the new version; "
                    "nothing was saved."
                ),
                code="version_conflict",
                params={"expected": expected, "current": current},
            )
        return cleaned

    def save(self, commit: bool = True) -> Any:
        self.instance.context = self.cleaned_data["context_json"]
        return super().save(commit)
