"""The per-attempt error history kept in ``properties["retry:errors"]``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from toro_core.plugin import safe_str

#: Property holding the history: a list of ``{class, message, at, attempt}``, oldest first.
ERRORS_KEY = "retry:errors"
#: Only the most recent entries are kept (matters only with ``max_attempts = None``).
HISTORY_LIMIT = 100
#: Messages longer than this are cut in the history (``error:message`` keeps the whole last one).
MESSAGE_LIMIT = 2_000


def error_class_name(error: BaseException) -> str:
    """``module.QualName`` of the error's class, or the bare name for built-in exceptions."""
    cls = type(error)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def entry(error: BaseException, attempt: int, at: datetime) -> dict[str, Any]:
    """One history entry: the error's class and message, when it failed and which attempt."""
    message = safe_str(error)
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "…"
    return {
        "class": error_class_name(error),
        "message": message,
        "at": at.isoformat(),
        "attempt": attempt,
    }


def appended(previous: Any, item: dict[str, Any]) -> list[Any]:
    """The history ``previous`` (as read from the row) with ``item`` added at the end.

    Anything but a list in ``previous`` (the property was overwritten by hand) starts afresh.
    """
    history = list(previous) if isinstance(previous, list) else []
    history.append(item)
    return history[-HISTORY_LIMIT:]
