"""``toro-core properties``: create, list and drop property indexes from the command line.

::

    toro-core properties index comments_count --type int
    toro-core properties index user.timeline.is_private --type bool
    toro-core properties indexes
    toro-core properties drop-index comments_count --type int
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from toro_properties.casts import TYPES
from toro_properties.indexes import (
    PropertyIndexError,
    create_property_index,
    drop_property_index,
    index_for,
    list_property_indexes,
)

if TYPE_CHECKING:
    from toro_core import Toro


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``properties`` command and its actions to ``toro-core``."""
    from toro_core.plugin import common_options

    common = common_options()
    parser = subparsers.add_parser(
        "properties", help="job properties: indexes that keep property queries fast"
    )
    actions = parser.add_subparsers(dest="properties_action", metavar="ACTION", required=True)

    index = actions.add_parser(
        "index", parents=[common], help="create an expression index on a property (CONCURRENTLY)"
    )
    _path_and_type(index)
    index.add_argument(
        "--no-concurrently",
        dest="concurrently",
        action="store_false",
        help="build with a plain CREATE INDEX (locks writes to toro_jobs while it builds)",
    )
    index.set_defaults(handler=cmd_index)

    listing = actions.add_parser("indexes", parents=[common], help="list the property indexes")
    listing.set_defaults(handler=cmd_indexes)

    drop = actions.add_parser("drop-index", parents=[common], help="drop a property index")
    _path_and_type(drop)
    drop.set_defaults(handler=cmd_drop_index)


def _path_and_type(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="property key or dotted path: comments_count, user.timeline.is_private"
    )
    parser.add_argument(
        "--type",
        dest="type",
        default="text",
        choices=list(TYPES),
        help="type the property is cast to in queries (default text)",
    )


def _checked_path(args: argparse.Namespace) -> None:
    try:
        index_for(args.path, args.type)
    except ValueError as exc:
        raise PropertyIndexError(str(exc)) from None


def cmd_index(args: argparse.Namespace, app: Toro) -> int:
    _checked_path(args)
    index = create_property_index(
        app.database_url, args.path, args.type, concurrently=args.concurrently
    )
    print(f"index {index.name} ready")
    print(f"queries use it when they filter on: {index.expression}")
    return 0


def cmd_indexes(args: argparse.Namespace, app: Toro) -> int:
    indexes = list_property_indexes(app.database_url)
    if not indexes:
        print("no property indexes (create one with `toro-core properties index NAME --type T`)")
    for index in indexes:
        state = "" if index.valid else "  (INVALID: rebuild with `toro-core properties index`)"
        print(f"{index.name:<45} {'.'.join(index.path)} as {index.type}: {index.expression}{state}")
    return 0


def cmd_drop_index(args: argparse.Namespace, app: Toro) -> int:
    _checked_path(args)
    name = index_for(args.path, args.type).name
    if drop_property_index(app.database_url, args.path, args.type):
        print(f"dropped {name}")
    else:
        print(f"no index {name}")
    return 0
