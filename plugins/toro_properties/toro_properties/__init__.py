"""toro-properties: job properties that jobs return or set while running, queryable in SQL.

::

    from toro_core import Worker
    from toro_properties import set_properties

    class CountComments(Worker):
        def perform(self, user_id):
            set_properties(user_id=user_id)          # stored at once, visible while running
            ...
            return {"job_properties": {"comments_count": 42, "user": {"id": user_id}}}

    # later, in SQL: SELECT id FROM toro_jobs WHERE (properties->>'comments_count')::int > 100
    create_property_index(conninfo, "comments_count", "int")   # keeps that query fast

Enable the plugin in worker processes (it is the entry point ``properties``); see the README.
"""

from toro_properties.checks import REJECTED_KEY
from toro_properties.indexes import (
    PropertyIndex,
    PropertyIndexError,
    create_property_index,
    drop_property_index,
    list_property_indexes,
)
from toro_properties.live import WithProperties, aset_properties, set_properties
from toro_properties.returned import RETURN_KEY

__version__ = "0.1.0"

__all__ = [
    "REJECTED_KEY",
    "RETURN_KEY",
    "PropertyIndex",
    "PropertyIndexError",
    "WithProperties",
    "__version__",
    "aset_properties",
    "create_property_index",
    "drop_property_index",
    "list_property_indexes",
    "set_properties",
]
