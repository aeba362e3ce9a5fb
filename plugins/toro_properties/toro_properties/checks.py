"""Splitting properties into what can be stored and what must be reported.

A property is stored only when it is a JSON value (the kernel's rules, see
:func:`toro_core.plugin.check_json`) and, where an index made with
:func:`create_property_index` casts it, when the cast would succeed. Everything else goes to
``properties:rejected`` as ``{key: reason}``, so a bad value is visible on the job instead of
failing its write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from toro_core.plugin import check_json
from toro_properties.casts import castable
from toro_properties.paths import MISSING, dotted, lookup

if TYPE_CHECKING:
    from toro_properties.indexes import PropertyIndex

#: Where refused properties are recorded on the job: ``{key: reason}``.
REJECTED_KEY = "properties:rejected"


@dataclasses.dataclass(slots=True)
class Checked:
    """The outcome of :func:`check_properties`."""

    good: dict[str, Any] = dataclasses.field(default_factory=dict)
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def index_problem(
    key: str, value: Any, indexes: Iterable[PropertyIndex], *, source: str
) -> str | None:
    """Why storing ``value`` under ``key`` would break an index's cast, or ``None``."""
    for index in indexes:
        if index.path[0] != key:
            continue
        leaf = lookup(value, index.path[1:])
        if leaf is MISSING or castable(leaf, index.kind):
            continue
        return (
            f"{source}[{key!r}]: {dotted(index.path)} = {_short(leaf)} cannot be cast to "
            f"{index.type}, which index {index.name} requires"
        )
    return None


def check_properties(
    properties: Mapping[Any, Any], indexes: Iterable[PropertyIndex] = (), *, source: str
) -> Checked:
    """Split ``properties`` into storable ``good`` keys and ``rejected`` reasons.

    ``source`` names where the properties came from in the reasons, such as
    ``"job_properties"`` or ``"set_properties"``.
    """
    indexes = tuple(indexes)
    checked = Checked()
    for key, value in properties.items():
        if not isinstance(key, str):
            checked.rejected[str(key)] = (
                f"{source} key {key!r} is a {type(key).__name__}; property names are strings"
            )
            continue
        problem = check_json(value, path=f"{source}[{key!r}]") or index_problem(
            key, value, indexes, source=source
        )
        if problem:
            checked.rejected[key] = problem
        else:
            checked.good[key] = value
    return checked
