"""Finding worker classes by the ``class_name`` stored in a job row."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from toro_core.errors import UnknownWorkerError

if TYPE_CHECKING:
    from toro_core.worker import Worker

_WORKERS: dict[str, type[Worker]] = {}


def class_name_of(cls: type) -> str:
    """``module.Qualified.Name``; for a class defined in a script run with ``-m``, its module."""
    module = cls.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name:
            module = spec.name
    return f"{module}.{cls.__qualname__}"


def register(cls: type[Worker]) -> None:
    """Remember a worker class (called for every ``Worker`` subclass as it is defined)."""
    _WORKERS[class_name_of(cls)] = cls


def loaded() -> list[type[Worker]]:
    """Every worker class defined in this process so far, by class name."""
    return [_WORKERS[name] for name in sorted(_WORKERS)]


def resolve(class_name: str, *, importing: bool = True) -> type[Worker]:
    """The worker class a job names; imports its module when it is not loaded yet (unless
    ``importing`` is false: then only classes already defined are found).

    Only ``Worker`` subclasses are returned; anything else is an ``UnknownWorkerError`` that
    says why, so a job naming a missing or wrong class fails with a readable reason.
    """
    from toro_core.worker import Worker

    found = _WORKERS.get(class_name)
    if found is not None:
        return found
    if not importing:
        raise UnknownWorkerError(
            f"no worker class {class_name!r} is defined in this process, and this worker "
            "imports no module a job names"
        )
    candidate = None
    # Try the longest importable module prefix, then walk attributes (nested classes).
    parts = class_name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name, attribute_path = ".".join(parts[:split]), parts[split:]
        try:
            obj: object = importlib.import_module(module_name)
        except ImportError:
            continue
        except Exception as exc:
            raise UnknownWorkerError(
                f"worker class {class_name!r}: importing {module_name!r} failed: {exc!r}"
            ) from exc
        for attribute in attribute_path:
            obj = getattr(obj, attribute, None)
            if obj is None:
                break
        candidate = obj
        break
    if candidate is None:
        raise UnknownWorkerError(
            f"no worker class {class_name!r} is loaded in this process and its module cannot "
            "be imported (start the worker with -r <module> or put it on PYTHONPATH)"
        )
    if not (isinstance(candidate, type) and issubclass(candidate, Worker)):
        raise UnknownWorkerError(f"{class_name!r} is not a toro Worker subclass")
    return candidate
