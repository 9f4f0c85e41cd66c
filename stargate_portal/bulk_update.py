"""Setting different values on many rows at once.

Django's ``bulk_update`` builds one ``CASE WHEN`` per row and field, which costs more than
the database work at a few thousand rows. On PostgreSQL this is one ``UPDATE … FROM
(VALUES …)`` per chunk; elsewhere it falls back to ``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models

CHUNK = 2_000


def rows_update(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Set ``columns`` per row (each row is ``(pk, *values)``) and ``same`` on every row."""
    same = dict(same or {})
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(pk=row[0], **dict(zip(columns, row[1:], strict=True))) for row in rows]
        for obj in objects:
            for name, value in same.items():
                setattr(obj, name, value)
        model._default_manager.bulk_update(objects, [*columns, *same], batch_size=500)
        return
    for start in range(0, len(rows), CHUNK):
        _update_chunk(model, columns, rows[start : start + CHUNK], same)


def _update_chunk(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: Mapping[str, Any],
) -> None:
    meta = model._meta
    fields = [_concrete(model, name) for name in columns]
    pk = _concrete(model, "pk" if meta.pk is None else meta.pk.name)
    casts = [pk.db_type(connection), *(f.db_type(connection) for f in fields)]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    params: list[Any] = []
    for row in rows:
        params.append(row[0])
        params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, row[1:], strict=True)]
    same_fields = {name: _concrete(model, name) for name in same}
    assignments = [f'"{f.column}" = v."{f.column}"' for f in fields]
    assignments += [f'"{f.column}" = %s' for f in same_fields.values()]
    same_params = [f.get_db_prep_save(same[n], connection) for n, f in same_fields.items()]
    names = ", ".join(['"id"', *(f'"{f.column}"' for f in fields)])
    sql = (
        f'UPDATE "{meta.db_table}" AS t SET {", ".join(assignments)} '  # noqa: S608 - names come from the model
        f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v({names}) "
        f'WHERE t."{pk.column}" = v."id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*same_params, *params])


def _concrete(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
