"""The columns graph-flow shapes: ``SessionIdField`` (uuid or text ids), ``ContextField``
(the ``context`` jsonb column, read and written as a graph-flow Context) and
``IndexedTextField`` (graph and task, indexed by their first characters)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Func, JSONField, TextField, UUIDField
from django.db.models.expressions import Expression
from django.db.models.lookups import Exact
from django.db.models.query_utils import DeferredAttribute

from .conf import app_settings
from .contract.codec import check_context
from .contract.jsontext import decode_json
from .contract.types import Context
from .exceptions import ContextDeserializationError, ContextError, InvalidSessionId
from .ids import SessionId, id_text, is_canonical_uuid_text, parse_session_id
from .storage import sql
from .storage.flavour import id_for_table


class SessionIdField(UUIDField):
    """The id column: ``uuid`` on graph-flow 0.5's table, ``text`` once graph-flow 0.6 has
    converted it in place (see ``ids.py``). Migrations see a plain UUIDField.

    Values are UUIDs, and on a text table any other text (kept exactly). On PostgreSQL an id
    is sent as a text literal, which the server reads as the column's type, so the same
    query works on both tables; text that is not a UUID is refused before the query on a
    0.5 table, as Django's UUIDField refuses it.
    """

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.UUIDField", args, kwargs

    def to_python(self, value: Any) -> SessionId | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            # Either table's id; which one it names is decided where the table is known.
            return uuid.UUID(value) if is_canonical_uuid_text(value) else value
        return super().to_python(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> SessionId | None:
        return self.to_python(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        try:
            if connection.vendor != "postgresql":
                # Only PostgreSQL holds graph-flow 0.6's text ids; elsewhere the column is
                # Django's uuid, and other text is refused as UUIDField refuses it.
                return super().get_db_prep_value(parse_session_id(value), connection, prepared)
            return id_text(id_for_table(connection, value))
        except InvalidSessionId as exc:
            raise ValidationError(str(exc), code="invalid", params={"value": value}) from exc


class ContextDescriptor(DeferredAttribute):
    """Turns the stored JSON into a Context on first access, not on load.

    Loading rows therefore costs no validation, a list that defers ``context`` never pays for
    it, and a row another service wrote in a shape that breaks the contract can still be
    loaded: the error (naming the session and the path) comes when the context is used.
    """

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if not isinstance(value, Context):
            try:
                if isinstance(value, UnreadableJSON):
                    decode_json(value)  # raises, saying where
                value = Context.from_dict(value)
            except ContextDeserializationError as exc:
                raise ContextDeserializationError(
                    f"session {instance.pk}: stored context breaks the graph-flow contract: {exc}",
                    path=exc.path,
                    session_id=instance.pk,
                ) from exc
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        # Being a data descriptor is what routes every read through __get__ above.
        instance.__dict__[self.field.attname] = value


class UnreadableJSON(str):
    """Stored JSON that Python's json cannot read although the database accepted it (an
    integer beyond ``sys.get_int_max_str_digits``), kept as text until the context is used."""


class ContextField(JSONField):
    """A JSONField whose Python value is a :class:`~graphflow_sessions.context.Context`.

    Assign a Context or a dict in the contract shape. JSON lookups work as on any JSONField:
    ``Session.objects.filter(context__data__insurance_type="car")``.
    """

    descriptor_class = ContextDescriptor

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        try:
            return super().from_db_value(value, expression, connection)
        except ValueError:  # not a JSONDecodeError, which Django answers with the text itself
            return UnreadableJSON(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Context):
            return value.to_dict()
        return super().get_prep_value(value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if not isinstance(value, Expression):
            # Same checks as the storage backend, so the ORM cannot write what Rust can't read.
            value = _checked(value).to_dict()
        return super().get_db_prep_save(value, connection)

    def value_from_object(self, obj: Any) -> Any:
        # The JSON, not the Context: what forms (model_to_dict), dumpdata and the admin
        # show and serialize. Reading it never validates, so a row that breaks the contract
        # can still be looked at and exported.
        if self.attname not in obj.__dict__:
            obj.refresh_from_db(fields=[self.attname])
        value = obj.__dict__[self.attname]
        return value.to_dict() if isinstance(value, Context) else value

    def validate(self, value: Any, model_instance: Any) -> None:
        # Model validation (ModelForm, full_clean) reports a contract breach as a form error
        # naming the path, instead of failing later inside save().
        try:
            value = _checked(value).to_dict()
        except ContextError as exc:
            raise ValidationError(str(exc), code="invalid_context") from exc
        super().validate(value, model_instance)


def _checked(value: Any) -> Context:
    """A Context, or a dict in its shape, checked as a save checks it (contract, storable
    values, MAX_CONTEXT_BYTES); ContextError otherwise."""
    return check_context(value, max_bytes=app_settings.MAX_CONTEXT_BYTES)


def indexed_prefix(column: str) -> Func:
    """The expression the graph and task indexes hold (see ``sql.INDEXED_TEXT_CHARS``)."""
    return Func(F(column), template=sql.indexed_prefix("%(expressions)s"))


class IndexedTextField(TextField):
    """A text column whose index holds its first ``sql.INDEXED_TEXT_CHARS`` characters (a
    btree cannot hold a long incompressible value). An equality filter compares that prefix,
    which the index serves, and then the rest; forms accept at most that many characters,
    as the storage does. Migrations see a plain TextField: the column is unchanged."""

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"max_length": sql.INDEXED_TEXT_CHARS, **kwargs})


@IndexedTextField.register_lookup
class IndexedExact(Exact):
    """``column = value`` as ``prefix(column) = prefix(value) AND rest(column) = rest(value)``:
    the same rows, found through the prefix index on PostgreSQL and SQLite alike (SQLite
    would rewrite a plain ``column = value`` beside it into the value's prefix, and miss
    the index)."""

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        prefixes = f"{sql.indexed_prefix(lhs)} = {sql.indexed_prefix(rhs)}"
        params = [*lhs_params, *rhs_params]
        if self._shorter_than_prefix():
            # Only a value as short as its column's prefix equals that prefix. The rests'
            # comparison would add nothing but an estimate: having no statistics for it,
            # the planner takes it to keep 1 row in 200, and a search of a common word in
            # one graph then sorts every matching session instead of walking the index.
            return f"({prefixes})", tuple(params)
        rests = f"{sql.indexed_rest(lhs)} = {sql.indexed_rest(rhs)}"
        return f"({prefixes} AND {rests})", (*params, *params)

    def _shorter_than_prefix(self) -> bool:
        return (
            self.rhs_is_direct_value()
            and isinstance(self.rhs, str)
            and len(self.rhs) < sql.INDEXED_TEXT_CHARS
        )
