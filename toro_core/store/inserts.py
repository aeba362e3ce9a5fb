"""Small decisions of the insert statements, shared by the async and sync stores."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from toro_core.store.base import Row


@dataclasses.dataclass
class Written:
    """What the statements of one bulk insert wrote so far: the ids of the jobs without a
    unique key, in input order, and the id of the job holding each unique key (written by
    these statements, or found holding it)."""

    plain: list[int] = dataclasses.field(default_factory=list)
    by_key: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(self, row: Row | None) -> None:
        """Take in the answer of one ``insert_jobs`` statement (one row of arrays)."""
        if row is None:
            return
        keyed: list[int] = row["keyed_ids"]
        if keyed:
            holding = set(keyed)
            self.plain.extend(i for i in row["ids"] if i not in holding)
            self.by_key.update(zip(row["keys"], keyed, strict=True))
        else:
            self.plain.extend(row["ids"])

    def hold(self, held: Sequence[Row]) -> None:
        """Take in ``find_unique_ids``' answer: the jobs holding the keys not written."""
        self.by_key.update((row["key"], row["id"]) for row in held if row["id"] is not None)

    def ids(self, keys: Sequence[str | None]) -> list[int] | None:
        """The id of each input row (its unique key given in ``keys``, ``None`` for none);
        ``None`` while a unique row's job is still unknown."""
        if keys.count(None) == len(keys):
            return self.plain
        plain = iter(self.plain)
        ids: list[int] = []
        for key in keys:
            if key is None:
                ids.append(next(plain))
            elif key in self.by_key:
                ids.append(self.by_key[key])
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


def bulk_query(statement: dict[str, Any]) -> str:
    """``insert_jobs``, or its lighter twin when no job of the bulk (``statement``, from
    :func:`bulk_statement`) has a unique key or a limit."""
    plain = not statement["unique_keys"] and not statement["limit_keys"]
    return "insert_jobs_plain" if plain else "insert_jobs"


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
