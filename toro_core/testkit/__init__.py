"""The parts of :mod:`toro_core.testing`, one module each: databases and queries
(:mod:`.databases`), ``toro-core`` subprocesses (:mod:`.processes`), a TCP proxy that cuts the
database off (:mod:`.proxy`), and jobs run in the test's process (:mod:`.jobs`). Import them
from :mod:`toro_core.testing`, which re-exports every one.
"""
