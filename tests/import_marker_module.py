"""Imported only by a worker that imports what a job names: importing it leaves a mark."""

import os

_marker = os.environ.get("TORO_TEST_IMPORT_MARKER")
if _marker:
    with open(_marker, "a") as marks:
        marks.write("imported\n")


class Thing:
    pass
