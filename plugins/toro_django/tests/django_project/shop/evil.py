"""Never imported by a worker: a job row naming it must fail without importing it."""

import os

_marker = os.environ.get("TORO_TEST_IMPORT_MARKER")
if _marker:
    with open(_marker, "a") as marks:
        marks.write("imported\n")


def boom():
    return "should never run"
