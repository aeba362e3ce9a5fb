"""Array parameters written as PostgreSQL array literals, for the statements on the hot path.

psycopg dumps a Python list element by element, testing each one's text with a regular
expression for quoting: 28 us for the three 10-element lists of one outcome batch (ids,
attempts, durations), nearly 3 us a job. Numbers never need quoting, so their literal is one
``join``; the statement casts the parameter (``%(ids)s::bigint[]``) as it did the list.
"""

from __future__ import annotations

from collections.abc import Iterable


def int_array(values: Iterable[int]) -> str:
    """``{1,2,3}`` for a parameter cast to ``bigint[]`` or ``int[]``."""
    return "{" + ",".join(map(str, values)) + "}"


def float_array(values: Iterable[float]) -> str:
    """``{0.5,1e-05}`` for a parameter cast to ``float8[]`` (``repr`` round-trips a float;
    PostgreSQL reads its ``inf``, ``-inf`` and ``nan`` too)."""
    return "{" + ",".join(map(repr, values)) + "}"
