"""Small decisions of the insert statements, shared by the async and sync stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toro_core.store.base import Row


def bulk_ids(params: dict[str, Any], written: Sequence[Row]) -> list[int] | None:
    """The id of each input row of a bulk insert, from the rows written (or found holding
    their unique key); ``None`` while a unique row's job is still unknown."""
    keys: list[str | None] = params["unique_keys"]
    if keys.count(None) == len(keys):
        return [row["id"] for row in written]
    by_key = {row["unique_key"]: row["id"] for row in written if row["unique_key"] is not None}
    plain = iter(row["id"] for row in written if row["unique_key"] is None)
    ids: list[int] = []
    for key in keys:
        if key is None:
            ids.append(next(plain))
        elif key in by_key:
            ids.append(by_key[key])
        else:
            return None
    return ids


def bulk_statement(params: dict[str, Any]) -> dict[str, Any]:
    """The statement parameters of ``insert_jobs`` from :func:`toro_core.client.bulk_params`:
    the arguments as one JSON array (one value to send and parse, not one per job), keyword
    arguments likewise or ``NULL`` when no job has any, and a column no job uses as an empty
    array."""
    size = len(params["args"])

    def used(column: str) -> list[str | None]:
        values: list[str | None] = params[column]
        return [] if values.count(None) == size else values

    kwargs: list[str] = params["kwargs"]
    return {
        **params,
        "args": "[" + ",".join(params["args"]) + "]",
        "kwargs": None if kwargs.count("{}") == size else "[" + ",".join(kwargs) + "]",
        "names": used("names"),
        "unique_keys": used("unique_keys"),
        "limit_keys": used("limit_keys"),
    }


def missing(params: dict[str, Any], held: Sequence[Row]) -> dict[str, Any]:
    """The bulk parameters of the rows whose key no job holds any more (to insert again)."""
    free = {row["key"] for row in held if row["id"] is None}
    keep = [i for i, key in enumerate(params["unique_keys"]) if key in free]
    columns = ("args", "kwargs", "names", "unique_keys", "limit_keys")
    return {**params, **{c: [params[c][i] for i in keep] for c in columns}}


def insert_statement(params: dict[str, Any]) -> str:
    """``insert_job``, or its lighter twin for a job with no unique key and no limit."""
    plain = params["unique_key"] is None and params["limit_key"] is None
    return "insert_job_plain" if plain else "insert_job"
