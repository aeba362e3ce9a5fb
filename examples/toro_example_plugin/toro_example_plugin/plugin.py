"""The example plugin: an ``around_job`` middleware that records how long each job took.

It stores the time in the job's properties under ``example:elapsed_ms`` and the plugin's name
under ``example:wrapped_by``, so a test (or a user) can see in SQL that every job went through it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from toro_core import Execution, hookimpl


@hookimpl
def around_job(execution: Execution) -> object:
    @asynccontextmanager
    async def timed() -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            execution.properties["example:elapsed_ms"] = round(
                (time.perf_counter() - start) * 1000, 3
            )
            execution.properties["example:wrapped_by"] = "toro-example-plugin"

    return timed()
