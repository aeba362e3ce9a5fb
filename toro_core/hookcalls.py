"""The typed facade over the hooks that run per job: what :class:`~toro_core.app.Toro` calls
when it enqueues and runs jobs. A hook no plugin implements is not called at all."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from toro_core.encoding import dumps
from toro_core.plugins import plugin_name

if TYPE_CHECKING:
    from toro_core.job import Job
    from toro_core.outcome import Execution, WrittenOutcome
    from toro_core.runtime.context import ProcessContext
    from toro_core.worker import Worker

log = logging.getLogger("toro.job")


class HookCalls:
    """Mixed into :class:`~toro_core.app.Toro`; needs its ``plugin_manager``."""

    plugin_manager: pluggy.PluginManager

    @functools.cached_property
    def _has_impls(self) -> dict[str, bool]:
        names = (
            "job_enqueued",
            "job_started",
            "job_finished",
            "job_failed",
            "around_job",
            "job_headers",
            "outcomes_written",
        )
        return {
            name: bool(getattr(self.plugin_manager.hook, name).get_hookimpls()) for name in names
        }

    def job_name(
        self, worker_class: type[Worker], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> str | None:
        result = self.plugin_manager.hook.job_name(
            worker_class=worker_class, args=args, kwargs=kwargs
        )
        return None if result is None else str(result)

    @functools.cached_property
    def _namers(self) -> dict[type[Worker], Any]:
        return {}

    def job_namer(
        self, worker_class: type[Worker]
    ) -> Callable[[Sequence[Any], dict[str, Any]], str | None] | None:
        """A name function for ``worker_class``'s jobs, or ``None`` when no plugin would name
        them (decided once per class: then naming a job costs nothing)."""
        try:
            return self._namers[worker_class]  # type: ignore[no-any-return]
        except KeyError:
            namer = self._namers[worker_class] = self._find_namer(worker_class)
            return namer

    def _find_namer(
        self, worker_class: type[Worker]
    ) -> Callable[[Sequence[Any], dict[str, Any]], str | None] | None:
        impls = self.plugin_manager.hook.job_name.get_hookimpls()
        only_builtin = (
            len(impls) == 1 and plugin_name(self.plugin_manager, impls[0].plugin) == "core"
        )
        if only_builtin and getattr(worker_class, "job_name", None) is None:
            return None
        return lambda args, kwargs: self.job_name(worker_class, args, kwargs)

    def job_headers(self, worker_class: type[Worker]) -> str | None:
        """The ``headers`` of jobs enqueued now, as JSON object text; ``None`` (no call at all)
        when no plugin implements ``job_headers`` or none returned any."""
        if not self._has_impls["job_headers"]:
            return None
        merged: dict[str, str] = {}
        # pluggy gives the most recently registered plugin's result first: the first
        # registered plugin is merged last, so its value wins
        for result in self.plugin_manager.hook.job_headers(worker_class=worker_class):
            if result:
                merged.update(result)
        if not merged:
            return None
        for key, value in merged.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(
                    f"job_headers: header {key!r} of {worker_class.__qualname__} is a "
                    f"{type(value).__name__}; header names and values are strings"
                )
        return dumps(merged)

    def notify_enqueued(self, jobs: Sequence[Job]) -> None:
        if self._has_impls["job_enqueued"]:
            self.plugin_manager.hook.job_enqueued(jobs=jobs)

    def middleware_for(self, worker_class: type[Worker]) -> tuple[Callable[[Execution], Any], ...]:
        """The ``job_middleware`` of every plugin for ``worker_class``, outermost first."""
        found = self.plugin_manager.hook.job_middleware(worker_class=worker_class)
        # pluggy answers the most recently registered plugin first: the first is outermost
        return tuple(reversed([factory for factory in found if factory is not None]))

    def around_job(self, execution: Execution) -> list[Any]:
        """The middleware managers for one attempt, outermost first."""
        if not self._has_impls["around_job"]:
            return []
        managers = []
        for result in self.plugin_manager.hook.around_job(execution=execution):
            if result is None:
                continue
            if not hasattr(result, "__aenter__") and callable(result):
                result = result()
            managers.append(result)
        # pluggy returns results of the most recently registered plugin first; the seed's
        # chain (and the docs) put the first registered plugin outermost.
        managers.reverse()
        return managers

    @functools.cached_property
    def _lifecycle_calls(self) -> dict[str, list[Callable[[Execution], Any]] | None]:
        """The ``job_started`` and ``job_finished`` implementations as plain functions, in
        pluggy's calling order: called per attempt, pluggy's dispatch would cost more than a
        plugin's own work. ``None`` for a hook with a wrapper, which only pluggy can call."""
        calls: dict[str, list[Callable[[Execution], Any]] | None] = {}
        for event in ("job_started", "job_finished"):
            impls = getattr(self.plugin_manager.hook, event).get_hookimpls()
            if any(impl.hookwrapper or impl.wrapper for impl in impls):
                calls[event] = None
            else:
                calls[event] = [_as_call(impl) for impl in reversed(impls)]
        return calls

    def lifecycle(self, event: str, execution: Execution) -> Awaitable[None] | None:
        """Call ``job_started`` or ``job_finished``. Implementations that return ``None`` (the
        usual case) are called here and now, and then nothing is left to await (no coroutine
        per attempt); from the first one that returns an awaitable on, the rest is returned
        as one awaitable, which calls them in order, each awaited before the next."""
        calls = self._lifecycle_calls[event]
        if calls is None:
            return self._lifecycle_through_pluggy(event, execution)
        for index, call in enumerate(calls):
            result = call(execution)
            if result is not None and inspect.isawaitable(result):
                return _await_then_call(result, calls[index + 1 :], execution)
        return None

    async def _lifecycle_through_pluggy(self, event: str, execution: Execution) -> None:
        for result in getattr(self.plugin_manager.hook, event)(execution=execution):
            if result is not None and inspect.isawaitable(result):
                await result

    async def job_failed(self, execution: Execution, error: Exception) -> None:
        """Call ``job_failed`` (only when a plugin implements it), awaiting async
        implementations; an implementation that raises is logged and the others still run."""
        for impl in reversed(self.plugin_manager.hook.job_failed.get_hookimpls()):
            try:
                result = _call_with(impl, execution=execution, error=error)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "job %s: the job_failed hook of plugin %s failed",
                    execution.job.id,
                    plugin_name(self.plugin_manager, impl.plugin),
                )

    def outcomes_written(self, context: ProcessContext, outcomes: Sequence[WrittenOutcome]) -> None:
        """Call ``outcomes_written`` (only when a plugin implements it); an implementation that
        raises is logged and the others still run."""
        for impl in reversed(self.plugin_manager.hook.outcomes_written.get_hookimpls()):
            try:
                result = _call_with(impl, context=context, outcomes=outcomes)
                if inspect.iscoroutine(result):  # never awaited: the hook is synchronous
                    result.close()
                    raise TypeError("it is async; outcomes_written implementations are sync")
            except Exception:
                log.exception(
                    "the outcomes_written hook of plugin %s failed",
                    plugin_name(self.plugin_manager, impl.plugin),
                )

    def has(self, hook: str) -> bool:
        return bool(self._has_impls.get(hook))


async def _await_then_call(
    first: Awaitable[Any], calls: list[Callable[[Execution], Any]], execution: Execution
) -> None:
    """Await ``first``, then call (and await, when they return an awaitable) ``calls``."""
    await first
    for call in calls:
        result = call(execution)
        if result is not None and inspect.isawaitable(result):
            await result


def _as_call(impl: pluggy.HookImpl) -> Callable[[Execution], Any]:
    """A hook implementation called as pluggy would: with ``execution`` when it takes it."""
    function = impl.function
    if "execution" in impl.argnames:
        return function
    return lambda execution: function()


def _call_with(impl: pluggy.HookImpl, **values: Any) -> Any:
    """Call a hook implementation as pluggy would: with those of ``values`` it takes."""
    names = impl.argnames
    return impl.function(**{name: value for name, value in values.items() if name in names})
