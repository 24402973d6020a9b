"""The statements of a turn's start and end, written once (issue 23.3).

A turn's start reads its model (with the owner's run limits and the socket's session
check), its conversation with its turns, and (on /v1) its token; it writes the prompt
and its answer and the conversation's leaf; its end writes the final save. Their SQL
never changes, but through `QuerySet` every call built and compiled it again: ~60 %
of a chat turn's start was the ORM building statements and rows, not the database
(py-spy on a bench server, docs/performance.md). Here each read is SQL written once
per database from the models' own fields (`Row`): the columns under a table alias,
every parameter bound, and each row made into instances as the ORM makes them
(`Model.from_db`, the same converters per column, related objects cached as
`select_related` caches them). Updates are compiled by the ORM once per set of
fields (`Update`). Kept here, beside the models, so a field added to a model is
read and written by the next start without a change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

from django.db import connections, models, router
from django.db.models.expressions import Expression
from django.db.models.sql import UpdateQuery

Converters = list[tuple[int, list[Callable[..., Any]], Any]]


def converters_for(expressions: Sequence[Any], connection: Any) -> Converters:
    """The converters the compiler applies to each column read (`SQLCompiler.get_converters`)."""
    out: Converters = []
    for i, expression in enumerate(expressions):
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            out.append((i, found, expression))
    return out


def convert(row: Sequence[Any], converters: Converters, connection: Any) -> list[Any]:
    values = list(row)
    for i, found, expression in converters:
        value = values[i]
        for converter in found:
            value = converter(value, expression, connection)
        values[i] = value
    return values


class Row:
    """A model's row in a hand-written SELECT: its columns under `alias` (but `skip`,
    left deferred as `QuerySet.defer` leaves them), and the instance made from them."""

    def __init__(self, model: type[models.Model], alias: str, skip: Sequence[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if f.name not in skip]
        self.attnames = [f.attname for f in self.fields]
        self.width = len(self.fields)

    def columns(self, connection: Any) -> str:
        q = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{q(f.column)}" for f in self.fields)

    def expressions(self) -> list[Any]:
        return [f.get_col(self.alias) for f in self.fields]

    def make(self, db: str, values: Sequence[Any]) -> Any:
        return self.model.from_db(db, self.attnames, values)


class Read:
    """A SELECT of `rows` (side by side in each row) and `extra` expressions (each with
    its SQL and parameters as the caller builds it, e.g. a `RawSQL`), compiled once
    per database and shape by `build(connection, columns)` into SQL whose only
    parameters are the extras' (first) and the caller's (after)."""

    def __init__(self, rows: Sequence[Row], build: Callable[[Any, str], str]) -> None:
        self.rows = rows
        self.build = build
        self._compiled: dict[tuple[Any, ...], tuple[str, Converters]] = {}

    def run(self, params: Sequence[Any], extra: dict[str, Expression] | None = None,
            using: str | None = None) -> tuple[str, list[list[Any]], dict[str, int]]:
        """(db, the rows found, converted, and each extra's position in a row)."""
        db = using or router.db_for_read(self.rows[0].model)
        connection = connections[db]
        extra = extra or {}
        extra_sql: list[str] = [e.sql for e in extra.values()]  # type: ignore[attr-defined]  # RawSQL
        key = (db, *zip(extra, extra_sql, strict=True))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(connection, extra, extra_sql)
        sql, converters = compiled
        bound = [p for e in extra.values() for p in e.params]  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*bound, *params])
            found = cursor.fetchall()
        width = sum(r.width for r in self.rows)
        return db, [convert(r, converters, connection) for r in found], {n: width + i for i, n in enumerate(extra)}

    def _compile(self, connection: Any, extra: dict[str, Expression], extra_sql: list[str]) -> tuple[str, Converters]:
        q = connection.ops.quote_name
        columns = ", ".join(
            [r.columns(connection) for r in self.rows]
            + [f"{sql} AS {q(name)}" for name, sql in zip(extra, extra_sql, strict=True)]
        )
        expressions = [e for r in self.rows for e in r.expressions()] + list(extra.values())
        return self.build(connection, columns), converters_for(expressions, connection)


class Update:
    """`Model.objects.filter(pk=pk).update(**fields)` (and `and_where`, a field's value
    the row must still have), the statement compiled by the ORM once per database
    and set of fields; each call prepares only its values, as the compiler does
    (`get_db_prep_save`). Values that are part of the SQL (None, an expression such as
    `Now()`) are part of the key; a statement whose parameters are not simply the
    prepared values then the keys is updated through the ORM, as before."""

    def __init__(self, model: type[models.Model], and_where: tuple[str, Any] | None = None) -> None:
        self.model = model
        self.and_where = and_where
        self._compiled: dict[tuple[Any, ...], tuple[str, list[Any]] | None] = {}

    def __call__(self, pk: Any, fields: dict[str, Any]) -> int:
        db = router.db_for_write(self.model)
        connection = connections[db]
        key = (db, connection.vendor, tuple(fields), tuple(_kind(v) for v in fields.values()))
        if key not in self._compiled:
            self._compiled[key] = self._compile(db, fields)
        compiled = self._compiled[key]
        if compiled is None:
            return self._orm(pk, fields)
        sql, value_fields = compiled
        params = [f.get_db_prep_save(fields[f.name], connection=connection) for f in value_fields]
        params += self._where(pk)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)

    def _where(self, pk: Any) -> list[Any]:
        return [pk, self.and_where[1]] if self.and_where else [pk]

    def _filter(self, pk: Any) -> models.QuerySet[Any]:
        where = {self.and_where[0]: self.and_where[1]} if self.and_where else {}
        return self.model._default_manager.filter(pk=pk, **where)

    def _orm(self, pk: Any, fields: dict[str, Any]) -> int:
        return self._filter(pk).update(**fields)

    def _compile(self, db: str, fields: dict[str, Any]) -> tuple[str, list[Any]] | None:
        from django.db.models.expressions import ResolvedOuterRef

        # A key no row has, of the pk's type: the statement's shape is all that is kept.
        query = cast(UpdateQuery, self._filter(0).query.chain(UpdateQuery))
        query.add_update_values(fields)
        value_fields = []
        for field, _model, value in query.values:  # type: ignore[attr-defined]
            if isinstance(value, ResolvedOuterRef):
                return None
            if _kind(value) == "sql":
                continue
            if hasattr(field, "get_placeholder") or hasattr(value, "prepare_database_save"):
                return None  # a placeholder or a value the compiler treats its own way
            value_fields.append(field)
        sql, params = query.get_compiler(db).as_sql()
        connection = connections[db]
        expected = [f.get_db_prep_save(fields[f.name], connection=connection) for f in value_fields]
        expected += self._where(0)
        if len(params) != len(expected) or not all(map(same_parameter, params, expected)):
            return None
        return sql, value_fields


def _kind(value: Any) -> str:
    """'sql': written into the statement (an expression, or None as NULL); 'param': a parameter."""
    return "sql" if value is None or hasattr(value, "resolve_expression") else "param"


# ---- the reads of a turn's start ------------------------------------------------------------


def _table(connection: Any, model: type[models.Model]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _column(connection: Any, model: type[models.Model], name: str) -> str:
    field: Any = model._meta.get_field(name)
    return str(connection.ops.quote_name(field.column))


@functools.cache
def _model_reads() -> tuple[Row, Row, Read, Read]:
    from playground.models import ModelProfile, Provider

    model, provider = Row(ModelProfile, "m"), Row(Provider, "p")

    def joined(c: Any, columns: str) -> str:
        return (f"SELECT {columns} FROM {_table(c, ModelProfile)} m INNER JOIN {_table(c, Provider)} p"
                f" ON m.{_column(c, ModelProfile, 'provider')} = p.{_column(c, Provider, 'id')}")

    by_pk = Read([model, provider], lambda c, columns: (
        f"{joined(c, columns)} WHERE m.{_column(c, ModelProfile, 'id')} = %s"
        f" AND m.{_column(c, ModelProfile, 'enabled')} = %s"))
    by_label = Read([model, provider], lambda c, columns: (
        f"{joined(c, columns)} WHERE m.{_column(c, ModelProfile, 'label')} = %s"
        f" AND m.{_column(c, ModelProfile, 'enabled')} = %s AND p.{_column(c, Provider, 'enabled')} = %s"))
    return model, provider, by_pk, by_label


def _model_of(db: str, row: list[Any], positions: dict[str, int]) -> Any:
    model_row, provider_row, _, _ = _model_reads()
    model = model_row.make(db, row[: model_row.width])
    provider = provider_row.make(db, row[model_row.width : model_row.width + provider_row.width])
    of: Any = type(model)._meta.get_field("provider")
    of.set_cached_value(model, provider)
    for name, at in positions.items():
        setattr(model, name, row[at])
    return model


def enabled_model(pk: int, **also: Expression) -> Any:
    """`ModelProfile.objects.select_related("provider").annotate(**also).get(pk=pk,
    enabled=True)`, or None. `also`: `RawSQL` columns read with it."""
    _, _, by_pk, _ = _model_reads()
    db, rows, positions = by_pk.run([pk, True], also)
    return _model_of(db, rows[0], positions) if rows else None


def enabled_model_labelled(label: str, **also: Expression) -> Any:
    """`enabled_models().filter(label=label).annotate(**also).first()` (labels are unique)."""
    _, _, _, by_label = _model_reads()
    db, rows, positions = by_label.run([label, True, True], also)
    return _model_of(db, rows[0], positions) if rows else None


@functools.cache
def _conversation_read(skip: tuple[str, ...]) -> tuple[Row, Row, Read]:
    from playground.models import Conversation, Turn

    conversation, turn = Row(Conversation, "c"), Row(Turn, "t", skip=skip)
    read = Read([conversation, turn], lambda c, columns: (
        f"SELECT {columns} FROM {_table(c, Conversation)} c LEFT OUTER JOIN {_table(c, Turn)} t"
        f" ON t.{_column(c, Turn, 'conversation')} = c.{_column(c, Conversation, 'id')}"
        f" WHERE c.{_column(c, Conversation, 'id')} = %s"
        f" ORDER BY t.{_column(c, Turn, 'created_at')}, t.{_column(c, Turn, 'id')}"))
    return conversation, turn, read


def conversation_with_turns(pk: int, skip: tuple[str, ...] = ()) -> tuple[Any, list[Any]]:
    """The conversation `pk` and its turns (`skip`: fields left deferred), oldest first,
    in one statement, whether or not it has turns yet. Raises `Conversation.DoesNotExist`."""
    conversation_row, turn_row, read = _conversation_read(skip)
    db, rows, _ = read.run([pk])
    if not rows:
        raise conversation_row.model.DoesNotExist(f"No conversation {pk}")  # type: ignore[attr-defined]
    width = conversation_row.width
    conversation = conversation_row.make(db, rows[0][:width])
    turns = []
    at_pk = width + turn_row.attnames.index("id")
    for row in rows:
        if row[at_pk] is not None:  # the outer join's row of a conversation with no turn
            turn = turn_row.make(db, row[width:])
            turns.append(turn)
    return conversation, turns


@functools.cache
def _token_read() -> tuple[Row, Row, Row, Read]:
    from django.contrib.auth import get_user_model

    from playground.models import ApiToken, Preferences

    user_model = get_user_model()
    token, user, preferences = Row(ApiToken, "k"), Row(user_model, "u"), Row(Preferences, "f")
    read = Read([token, user, preferences], lambda c, columns: (
        f"SELECT {columns} FROM {_table(c, ApiToken)} k"
        f" INNER JOIN {_table(c, user_model)} u ON k.{_column(c, ApiToken, 'user')} = u.{_column(c, user_model, 'id')}"
        f" LEFT OUTER JOIN {_table(c, Preferences)} f"
        f" ON f.{_column(c, Preferences, 'user')} = u.{_column(c, user_model, 'id')}"
        f" WHERE k.{_column(c, ApiToken, 'digest')} = %s AND k.{_column(c, ApiToken, 'revoked_at')} IS NULL"
        f" AND u.{_column(c, user_model, 'is_active')} = %s"))
    return token, user, preferences, read


def active_token(digest: str) -> Any:
    """`ApiToken.objects.select_related("user", "user__preferences").filter(digest=digest,
    revoked_at__isnull=True, user__is_active=True).first()` (digests are unique)."""
    token_row, user_row, preferences_row, read = _token_read()
    db, rows, _ = read.run([digest, True])
    if not rows:
        return None
    row = rows[0]
    token = token_row.make(db, row[: token_row.width])
    user = user_row.make(db, row[token_row.width : token_row.width + user_row.width])
    preferences_values = row[token_row.width + user_row.width :]
    owner: Any = preferences_row.model._meta.get_field("user")
    preferences = None
    if preferences_values[preferences_row.attnames.index("id")] is not None:
        preferences = preferences_row.make(db, preferences_values)
        owner.set_cached_value(preferences, user)
    owner.remote_field.set_cached_value(user, preferences)  # as select_related: None when there is none
    by: Any = token_row.model._meta.get_field("user")
    by.set_cached_value(token, user)
    return token


def same_parameter(a: Any, b: Any) -> bool:
    """Two prepared values alike (psycopg's JSON wrappers compare by identity: by their object)."""
    return bool(a == b) or (type(a) is type(b) and hasattr(a, "obj") and a.obj == b.obj)


class Insert:
    """`Model.objects.create(**values)` for a model no signal is connected to, the
    INSERT compiled by the ORM once per database; each call prepares its values as
    `Model.save()` does (`pre_save`, `get_db_prep_save`) and sets what the database
    returns (the new id). A statement whose parameters are not simply those values
    falls back to `save()`."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self._compiled: dict[str, tuple[str, list[Any]] | None] = {}

    def __call__(self, **values: Any) -> Any:
        from django.db.models.sql import InsertQuery

        instance = self.model(**values)
        meta = self.model._meta
        db = router.db_for_write(self.model, instance=instance)
        connection = connections[db]
        fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
        returning = meta.db_returning_fields
        compiled = self._compiled.get(db, False)
        if compiled is None or instance.pk is not None or not connection.features.can_return_columns_from_insert:
            instance.save(force_insert=True, using=db)
            return instance
        if compiled is False:
            query = InsertQuery(self.model)
            query.insert_values(fields, [instance])
            compiler = query.get_compiler(using=db)
            compiler.returning_fields = returning
            ((sql, params),) = compiler.as_sql()
            expected = [f.get_db_prep_save(getattr(instance, f.attname), connection=connection) for f in fields]
            plain = not any(hasattr(f, "get_placeholder") for f in fields) and len(params) == len(expected)
            same = plain and all(map(same_parameter, params, expected))
            self._compiled[db] = (sql, fields) if same else None
        else:
            sql, fields = compiled  # type: ignore[misc]
            params = [f.get_db_prep_save(f.pre_save(instance, True), connection=connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        converters = converters_for([f.get_col(meta.db_table) for f in returning], connection)
        for value, field in zip(convert(row, converters, connection), returning, strict=True):
            setattr(instance, field.attname, value)
        instance._state.adding, instance._state.db = False, db
        return instance
