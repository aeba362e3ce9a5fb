"""Named SQL blocks loaded from the ``.sql`` files of a package.

A file holds blocks that each start with ``-- name: <name>`` followed by comment lines that
describe the query; parameters are written ``%(name)s`` so that psycopg binds them and a block
can be pasted into psql after replacing them. Plugins keep their own ``sql/`` folder (or any
``.sql`` file in their package) and load it with :func:`load_queries` too.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[\w.]+)\s*$", re.MULTILINE)


def compact(sql: str) -> str:
    """``sql`` without its comments and indentation: what is sent to the server.

    Shorter text is cheaper to send and to parse, and psycopg caches its conversion of a
    statement only below a length (4 KiB). A ``--`` inside a quoted string is kept.
    """
    lines = []
    for line in sql.splitlines():
        quoted, cut = False, len(line)
        if "'" not in line:  # most lines: no string, so the first -- starts the comment
            found = line.find("--")
            kept = " ".join((line if found < 0 else line[:found]).split())
            if kept:
                lines.append(kept)
            continue
        for index, char in enumerate(line):
            if char == "'":
                quoted = not quoted
            elif not quoted and line.startswith("--", index):
                cut = index
                break
        kept = " ".join(line[:cut].split())
        if kept:
            lines.append(kept)
    return "\n".join(lines)


def parse_queries(text: str) -> dict[str, str]:
    """Split ``text`` into ``{name: sql}`` (each compacted, see :func:`compact`); a repeated
    name is an error."""
    queries: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = compact(text[match.end() : end])
        name = match.group("name")
        if name in queries:
            raise ValueError(f"SQL block {name!r} is defined twice")
        queries[name] = body
    return queries


@cache
def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Return the named blocks of ``filename`` inside ``package`` (read once, then cached)."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_queries(text)


def query(name: str) -> str:
    """One of toro-core's own queries (``toro_core/store/queries.sql``) by name."""
    return load_queries("toro_core.store")[name]
