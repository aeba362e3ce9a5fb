"""The attempt running in the current context, for code that ``perform`` calls.

The worker sets it around every attempt (middleware, ``perform`` and ``job_failed``), in the
task that runs the attempt; a sync ``perform`` sees it too, as its thread runs in a copy of
that context. A plugin's API called from a job (toro-properties' ``set_properties``) finds its
job here instead of entering a middleware around every attempt. Outside an attempt it is
``None``.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toro_core.outcome import Execution

_current: ContextVar[Execution] = ContextVar("toro_current_execution")


def current_execution() -> Execution | None:
    """The attempt running in this context (task or job thread), or ``None``."""
    return _current.get(None)


def enter(execution: Execution) -> Token[Execution]:
    """Make ``execution`` the current attempt; give the token back to :func:`leave`."""
    return _current.set(execution)


def leave(token: Token[Execution]) -> None:
    """Restore what was current before :func:`enter`."""
    _current.reset(token)
