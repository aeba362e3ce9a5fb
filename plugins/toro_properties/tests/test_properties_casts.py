"""The cast rules promise: a value the worker accepts for an indexed property always casts.

Checked against PostgreSQL itself: every sample value is stored as jsonb and cast the way the
index casts it; whatever :func:`castable` accepts must cast without error.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb
from toro_properties.casts import TYPES, castable, property_type

SAMPLES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    10**400,
    0.0,
    1.0,
    2.5,
    -1e-7,
    1e20,
    1e308,
    "0",
    "1",
    "-17",
    " 42 ",
    "+8",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1e999",
    "abc",
    "",
    "true",
    "FALSE",
    "yes",
    "off",
    "t",
    "maybe",
    "0x1F",
    "1_000",
    "NaN",
    "Infinity",
    [1, 2],
    {"a": 1},
    [],
    {},
]


@pytest.mark.parametrize("type_name", list(TYPES))
def test_every_accepted_value_casts_in_postgresql(toro_db, type_name):
    kind = property_type(type_name)
    cast = f"::{kind.sql_type}" if kind.sql_type else ""
    with psycopg.connect(toro_db, autocommit=True) as conn:
        for value in SAMPLES:
            if not castable(value, kind):
                continue
            try:
                conn.execute(f"SELECT (%s::jsonb ->> 'v'){cast}", (Jsonb({"v": value}),))
            except psycopg.Error as exc:
                pytest.fail(f"{value!r} accepted for {type_name} but PostgreSQL says: {exc}")


@pytest.mark.parametrize(
    ("type_name", "accepted", "refused"),
    [
        ("int", [5, -3, "17", " 8 ", None], [2.0, 2**31, True, "many", "1.5", [1], {"a": 1}]),
        ("bigint", [2**40, "-9"], [2**63, 1.0, "x"]),
        ("numeric", [1, 2.5, "1e3", ".5"], [float("inf"), "NaN", True, "abc"]),
        ("float", [1, 2.5, "1e3"], [10**400, "1e999", False]),
        ("bool", [True, False, 0, 1, "yes", "off"], [2, 1.0, "maybe", []]),
        ("text", ["x", 1, 2.5, True, [1], {"a": 1}], []),
    ],
)
def test_cast_rules(type_name, accepted, refused):
    kind = property_type(type_name)
    assert all(castable(v, kind) for v in accepted)
    assert not any(castable(v, kind) for v in refused)
