"""How much of a value the monitor shows: the bounds that keep every page small.

Lists select a prefix in SQL (never the whole value) and show it cut with "…"; the job detail
shows a long value's beginning and folds the rest into a ``<details>`` element, itself cut
at :data:`DETAIL_TEXT` characters; nested JSON is drawn as a tree down to :data:`TREE_DEPTH`
levels, deeper levels folded as JSON text.
"""

from __future__ import annotations

#: Characters of a name, queue, worker class or status shown in lists (and carried in a
#: keyset cursor).
LIST_TEXT = 200
#: Characters of the arguments shown in the jobs list.
ARGS_PREVIEW = 160
#: Characters of a long value shown before the fold, in the job detail.
SUMMARY = 200
#: Values up to this long are shown whole in the detail's preformatted boxes (arguments,
#: backtrace) without a fold.
PRE_INLINE = 4_000
#: Characters of one value shown at most, inside the fold.
DETAIL_TEXT = 20_000
#: Levels of the properties tree drawn as nested lists; deeper ones are folded JSON text.
TREE_DEPTH = 12
#: Nodes of the properties tree drawn at most.
TREE_NODES = 2_000
#: Characters of HTML the properties tree may take at most.
TREE_BUDGET = 200_000
