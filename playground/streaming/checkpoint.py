"""A streaming turn's checkpoint UPDATE, compiled once per set of fields (issue 23.1).

Every live run writes its text about once a second (CHECKPOINT_INTERVAL). Through
`QuerySet.update` each write builds and compiles the same statement again: at 40
streams that compiling was about a tenth of the server's CPU (docs/performance.md).
Here the ORM compiles it once per database and set of field names; each checkpoint
then prepares only its values, the way the compiler does (`get_db_prep_save`), and
runs the statement. Values that are expressions (`Now()`) are part of the SQL, and
so is a None (the compiler writes NULL): which values are which is part of the key.
"""

from __future__ import annotations

from typing import Any, cast

from django.db import connections, router
from django.db.models.expressions import ResolvedOuterRef
from django.db.models.sql import UpdateQuery

from playground.models import Turn

# (database alias, vendor, field names, each value's kind) -> (sql, the fields whose values are parameters)
_compiled: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], tuple[str, list[Any]] | None] = {}


def _is_expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression")


def _kind(value: Any) -> str:
    """'sql': written into the statement (an expression, or None as NULL); 'param': a parameter."""
    return "sql" if value is None or _is_expression(value) else "param"


def checkpoint(turn_id: int, fields: dict[str, Any]) -> int:
    """`Turn.objects.filter(pk=turn_id, status=STREAMING).update(**fields)`; the rows changed."""
    alias = router.db_for_write(Turn)
    connection = connections[alias]
    names = tuple(fields)
    key = (alias, connection.vendor, names, tuple(_kind(v) for v in fields.values()))
    if key not in _compiled:
        _compiled[key] = _compile(alias, fields)
    compiled = _compiled[key]
    if compiled is None:  # a statement this cache cannot reuse: the ORM's way
        return _orm_update(turn_id, fields)
    sql, value_fields = compiled
    params = [f.get_db_prep_save(fields[f.name], connection=connection) for f in value_fields]
    params += [turn_id, Turn.Status.STREAMING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _orm_update(turn_id: int, fields: dict[str, Any]) -> int:
    return Turn.objects.filter(pk=turn_id, status=Turn.Status.STREAMING).update(**fields)


def _compile(alias: str, fields: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """The statement with placeholders, or None when its parameters are not simply
    the prepared values then (pk, status), in that order."""
    query = cast(UpdateQuery, Turn.objects.filter(pk=0, status=Turn.Status.STREAMING).query.chain(UpdateQuery))
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
    sql, params = query.get_compiler(alias).as_sql()
    connection = connections[alias]
    expected = [f.get_db_prep_save(fields[f.name], connection=connection) for f in value_fields]
    if list(params) != [*expected, 0, Turn.Status.STREAMING]:
        return None
    return sql, value_fields
