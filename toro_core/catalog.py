"""Finding worker classes by the ``class_name`` stored in a job row.

Every ``Worker`` subclass registers itself here as it is defined; a job runs only a class
found here or in a module already imported (see :func:`resolve`): a row never chooses what a
worker process imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
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


def resolve(class_name: str, allow_import: Sequence[str] = ()) -> type[Worker]:
    """The worker class a job names, among the classes loaded in this process.

    A job runs only a ``Worker`` subclass that is already defined here: by the modules the
    worker process was told to load (``-r``) and whatever they import, by the plugins, or (for
    an embedded worker) by the application. A job naming anything else fails with an
    :class:`UnknownWorkerError` that says which: the module is not loaded, the module has no
    such class, or the object is not a Worker subclass. A row never makes a worker import a
    module, except one inside a package of ``allow_import`` (``--allow-import``), which is
    imported on first use (with its parent packages).
    """
    found = _WORKERS.get(class_name)
    if found is not None:
        return found
    parts = class_name.split(".")
    if allow_import and _import_allowed(class_name, parts, allow_import):
        found = _WORKERS.get(class_name)
        if found is not None:
            return found
    return _look_up_loaded(class_name, parts)


def _import_allowed(class_name: str, parts: list[str], allow_import: Sequence[str]) -> bool:
    """Import the longest prefix of ``class_name`` inside an allowed package; whether one was."""
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        if not any(module_name == p or module_name.startswith(p + ".") for p in allow_import):
            continue
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
                continue  # this prefix is not a module: try a shorter one
            raise UnknownWorkerError(
                f"worker class {class_name!r}: importing {module_name!r} failed: {exc!r}"
            ) from exc
        except BaseException as exc:
            raise UnknownWorkerError(
                f"worker class {class_name!r}: importing {module_name!r} failed: {exc!r}"
            ) from exc
        return True
    return False


def _look_up_loaded(class_name: str, parts: list[str]) -> type[Worker]:
    """Find ``class_name`` among the modules already imported, importing nothing and reading
    attributes statically (no module ``__getattr__``, no descriptors)."""
    from toro_core.worker import Worker

    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        obj: object = sys.modules.get(module_name)
        if obj is None:
            continue
        rest = parts[split:]
        for depth, attribute in enumerate(rest):
            namespace = getattr(obj, "__dict__", None)
            obj = namespace.get(attribute) if isinstance(namespace, Mapping) else None
            if obj is None:
                package = "__path__" in vars(sys.modules[module_name])
                if depth == 0 and len(rest) > 1 and package:
                    break  # ``package.module.Class`` whose module was never imported
                raise UnknownWorkerError(
                    f"worker class {class_name!r}: module {module_name!r} has no class "
                    f"{'.'.join(rest)!r}"
                )
        else:
            if isinstance(obj, type) and issubclass(obj, Worker):
                return obj
            raise UnknownWorkerError(f"{class_name!r} is not a toro Worker subclass")
        break
    module_name = ".".join(parts[:-1]) or class_name
    raise UnknownWorkerError(
        f"worker class {class_name!r}: module {module_name!r} is not loaded in this worker "
        "process, and a job cannot make a worker import a module (start the worker with "
        f"-r {module_name} or --allow-import {parts[0]}; an embedded worker runs the classes "
        "its application imported)"
    )
