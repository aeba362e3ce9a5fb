"""The text of the plain claim for a number of jobs (``claim_jobs_plain`` in queries.sql).

Its per-queue LIMIT is written into the statement, not bound: with every LIMIT a parameter,
PostgreSQL planned the claim afresh at every execution (the generic plan is costed for an
unknown LIMIT and never won), and planning was half of a claim's server time. One text per
value keeps the number of prepared statements small: the limit itself up to
:data:`EXACT_UP_TO` (the common case, a worker's free slots), else the next power of two (a
few more rows looked at and locked for the length of the statement; the outer LIMIT, still a
parameter, claims exactly the number asked for).
"""

from __future__ import annotations

from functools import cache

from toro_core.store.queries import query

#: Up to this many jobs a claim, the per-queue LIMIT is the number itself.
EXACT_UP_TO = 16


def per_queue_limit(limit: int) -> int:
    """The per-queue LIMIT written into the statement for a claim of ``limit`` jobs."""
    if limit <= EXACT_UP_TO:
        return max(1, limit)
    return 1 << (limit - 1).bit_length()


@cache
def _text(per_queue: int) -> str:
    return query("claim_jobs_plain").replace("{per_queue}", str(int(per_queue)))


def plain_claim(limit: int) -> str:
    """``claim_jobs_plain`` with its per-queue LIMIT for a claim of ``limit`` jobs."""
    return _text(per_queue_limit(limit))
