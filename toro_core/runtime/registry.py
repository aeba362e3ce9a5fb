"""This process in ``toro_processes``: registration, heartbeats, recovery of dead processes."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from toro_core.runtime.outcomes import some_ids
from toro_core.runtime.retry import TRANSIENT, Retry

if TYPE_CHECKING:
    from toro_core.settings import WorkerSettings
    from toro_core.store import CoreStore

log = logging.getLogger("toro.process")


class ProcessRegistry:
    """Keeps this process registered and alive, and recovers the jobs of dead ones.

    ``process_id`` changes when this process finds it was declared dead (it missed heartbeats,
    for example while frozen or cut off): it registers again under a new id, whatever it still
    held under the old id is fenced out, and ``on_declared_dead(old_id)`` is called so the
    process can stop working on those jobs.

    Recovery declares other processes dead only after this one has itself been in steady
    contact with the database for ``dead_after`` seconds (no gap between its own heartbeats
    longer than half of that). After a database restart, a network cut of every worker or a
    pause of the whole host, every heartbeat is old at once; the waiting gives the others
    time to heartbeat again instead of having all of them declared dead by the first one back.
    """

    def __init__(
        self,
        store: CoreStore,
        settings: WorkerSettings,
        on_declared_dead: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_declared_dead = on_declared_dead
        self.process_id = str(uuid.uuid4())
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._last_contact: float | None = None
        self._steady_since: float | None = None
        self._leaving = False

    async def register(self) -> None:
        self.process_id = str(uuid.uuid4())
        await self.store.register_process(
            process_id=self.process_id,
            host=self.host,
            pid=self.pid,
            queues=self.settings.queues,
            concurrency=self.settings.concurrency,
            meta={"identity": self.settings.identity},
        )
        self._contact()
        log.info(
            "process %s registered as %s (queues %s, concurrency %d)",
            self.settings.identity,
            self.process_id,
            ",".join(self.settings.queues),
            self.settings.concurrency,
        )

    async def heartbeat(self) -> bool:
        """Refresh the heartbeat; ``False`` if this process had been declared dead."""
        alive = await self.store.heartbeat(self.process_id)
        self._contact()
        if not alive and not self._leaving:  # gone because it left: a heartbeat in flight
            old = self.process_id
            log.warning(
                "process %s was declared dead (missed heartbeats); its unfinished jobs were "
                "recovered by others and their outcomes will be refused; registering again",
                old,
            )
            await self.register()
            self.on_declared_dead(old)
        return alive

    def _contact(self) -> None:
        """Note a successful round trip; a long gap since the last one restarts the count."""
        now = time.monotonic()
        if self._last_contact is None or now - self._last_contact > self.settings.dead_after / 2:
            self._steady_since = now
        self._last_contact = now

    @property
    def may_recover(self) -> bool:
        """Whether this process has been in steady contact long enough to judge others."""
        return (
            self._steady_since is not None
            and time.monotonic() - self._steady_since >= self.settings.dead_after
        )

    async def recover(self) -> int:
        """Requeue the running jobs of dead processes; return how many."""
        if not self.may_recover:
            return 0
        dead, jobs, failed = await self.store.recover(
            self.settings.dead_after, self.settings.max_recoveries
        )
        if dead or jobs:
            log.warning("recovered %d jobs from %d dead processes", jobs, dead)
        if failed:
            log.error(
                "jobs %s failed instead of being recovered: their worker process died under "
                "them %d times (see their error:message)",
                some_ids(failed),
                self.settings.max_recoveries,
            )
        return jobs

    async def run(self) -> None:
        """Heartbeat and recover every ``heartbeat_interval`` seconds, through outages."""
        retry = Retry("heartbeat", log, cap=self.settings.heartbeat_interval)
        while True:
            try:
                await self.heartbeat()
                await self.recover()
            except TRANSIENT as exc:
                await retry.pause(exc)
                continue
            retry.succeeded()
            await anyio.sleep(self.settings.heartbeat_interval)

    async def deregister(self) -> None:
        """Leave the registry for good: a heartbeat that finds the row gone after this does
        not register the process again."""
        self._leaving = True
        await self.store.deregister_process(self.process_id)
