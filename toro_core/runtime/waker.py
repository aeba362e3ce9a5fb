"""A wake-up call between tasks: set by one, awaited (with a timeout) by another."""

from __future__ import annotations

import anyio


class Waker:
    """Many tasks may :meth:`wake` it; one task :meth:`sleep` s until woken or timed out.

    A wake-up that comes while nobody sleeps is kept for the next sleep, so none is lost.
    """

    def __init__(self) -> None:
        self._event = anyio.Event()

    def wake(self) -> None:
        self._event.set()

    async def sleep(self, timeout: float) -> None:
        """Return when woken or after ``timeout`` seconds; either way the call is used up."""
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event = anyio.Event()
