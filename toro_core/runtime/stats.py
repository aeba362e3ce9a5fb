"""The live numbers of one worker process, for plugins that report them (metrics, health checks).

:class:`ProcessStats` is a read-only view over counters and lengths the runtime keeps anyway:
nothing is computed or locked per job to keep it, and reading a number is an attribute lookup
and a ``len``. It may be read from any thread (a metrics server's), at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from toro_core.runtime.claimer import Claimer
    from toro_core.runtime.listener import Listener
    from toro_core.runtime.outcomes import OutcomeWriter
    from toro_core.runtime.slots import Slots


class ProcessStats:
    """``context.stats`` of a worker process: see the module docstring.

    Gauges (``concurrency``, ``busy``, ``pending_outcomes``) say how things are now; counters
    (``claimed``, ``given_back``, ``claim_errors``, ``outcomes_written``, ``outcomes_refused``,
    ``reconnects``) only grow during the life of the process.
    """

    __slots__ = ("_claimer", "_listener", "_pool", "_slots", "_writer")

    def __init__(
        self,
        *,
        slots: Slots | None = None,
        writer: OutcomeWriter | None = None,
        claimer: Claimer | None = None,
        listener: Listener | None = None,
        pool: AsyncConnectionPool[Any] | None = None,
    ) -> None:
        """A view over the parts of one process (built by the process; without parts, every
        number is 0)."""
        self._slots, self._writer, self._claimer = slots, writer, claimer
        self._listener, self._pool = listener, pool

    @property
    def concurrency(self) -> int:
        """Slots of the process: the most jobs it runs at once (``-c``)."""
        return self._slots.concurrency if self._slots is not None else 0

    @property
    def busy(self) -> int:
        """Slots taken now: jobs claimed by this process and not finished yet."""
        return self._slots.busy if self._slots is not None else 0

    @property
    def pending_outcomes(self) -> int:
        """Finished attempts whose outcome is not written yet (grows during an outage)."""
        return self._writer.pending if self._writer is not None else 0

    @property
    def claimed(self) -> int:
        """Jobs claimed since the process started."""
        return self._claimer.claimed if self._claimer is not None else 0

    @property
    def given_back(self) -> int:
        """Jobs claimed ahead of the slots that waited too long behind slower ones and went
        back to the queue unstarted (their attempt not counted)."""
        return self._claimer.given_back if self._claimer is not None else 0

    @property
    def claim_errors(self) -> int:
        """Claims that failed because the database could not be used (each is retried)."""
        return self._claimer.errors if self._claimer is not None else 0

    @property
    def outcomes_written(self) -> int:
        """Outcomes written since the process started."""
        return self._writer.written if self._writer is not None else 0

    @property
    def outcomes_refused(self) -> int:
        """Outcomes the database refused: another process had recovered those jobs."""
        return self._writer.refused if self._writer is not None else 0

    @property
    def reconnects(self) -> int:
        """Database connections found broken and replaced: the LISTEN connection opened again
        after a loss, and the pool's connections discarded as broken."""
        total = self._listener.reconnects if self._listener is not None else 0
        if self._pool is not None:
            stats = self._pool.get_stats()
            total += stats.get("connections_lost", 0) + stats.get("returns_bad", 0)
        return total

    def as_dict(self) -> dict[str, int]:
        """Every number, by name (for a health endpoint or a log line)."""
        return {name: getattr(self, name) for name in NAMES}


#: The numbers of :class:`ProcessStats`, in the order :meth:`ProcessStats.as_dict` gives them.
NAMES = (
    "concurrency",
    "busy",
    "pending_outcomes",
    "claimed",
    "given_back",
    "claim_errors",
    "outcomes_written",
    "outcomes_refused",
    "reconnects",
)
