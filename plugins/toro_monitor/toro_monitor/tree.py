"""The properties tree of the job detail, drawn without recursion and within bounds.

Mappings become ``<ul class="tree">`` with each key in ``<span class="key">``, lists
``<ol class="tree">``, scalars ``<span class="value">`` (``<pre class="value">`` for
multi-line text). Below :data:`~toro_monitor.limits.TREE_DEPTH` levels a value is folded into
a ``<details>`` element holding its JSON text; long texts are folded too; after
:data:`~toro_monitor.limits.TREE_NODES` nodes or :data:`~toro_monitor.limits.TREE_BUDGET`
characters the tree says what it left out. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from markupsafe import Markup, escape

from toro_monitor import jsonsafe
from toro_monitor.fold import expandable
from toro_monitor.limits import DETAIL_TEXT, TREE_BUDGET, TREE_DEPTH, TREE_NODES

_END: Any = object()


def _scalar(value: Any) -> str:
    if value is None:
        return '<span class="null">null</span>'
    text = str(value)
    if isinstance(value, str) and "\n" in value:
        return f'<pre class="value">{expandable(text)}</pre>'
    return f'<span class="value">{expandable(text)}</span>'


def _folded(value: Any) -> str:
    size = len(value)
    what = (
        f"{size:,} key{'' if size == 1 else 's'}"
        if isinstance(value, Mapping)
        else (f"{size:,} item{'' if size == 1 else 's'}")
    )
    text, cut = jsonsafe.compact(value, DETAIL_TEXT)
    more = ' <span class="null">(cut)</span>' if cut else ""
    return (
        f'<details class="deep"><summary>{what}, nested deeper</summary>'
        f'<pre class="value">{escape(text)}</pre>{more}</details>'
    )


#: A container being drawn: its items, whether it is a mapping, the HTML that closes it.
Frame = tuple[Iterator[Any], bool, str]


def _open(value: Any, depth: int, stack: list[Frame], after: str) -> str:
    """The HTML that starts ``value``. A container pushes a frame on ``stack`` and its closing
    HTML (followed by ``after``) is written when its items are done; for anything else the
    caller writes ``after`` itself."""
    if isinstance(value, Mapping):
        if not value:
            return '<ul class="tree"><li><span class="null">(empty)</span></li></ul>'
        if depth >= TREE_DEPTH:
            return _folded(value)
        stack.append((iter(value.items()), True, "</ul>" + after))
        return '<ul class="tree">'
    if isinstance(value, list | tuple):
        if not value:
            return '<ol class="tree"><li><span class="null">(empty list)</span></li></ol>'
        if depth >= TREE_DEPTH:
            return _folded(value)
        stack.append((iter(value), False, "</ol>" + after))
        return '<ol class="tree">'
    return _scalar(value)


def render_tree(value: Any) -> Markup:
    """``value`` (a job's properties) as nested HTML lists."""
    out: list[str] = []
    size = nodes = 0
    stack: list[Frame] = []
    out.append(_open(value, 0, stack, ""))
    while stack:
        items, is_mapping, close = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            out.append(close)
            continue
        nodes += 1
        if nodes > TREE_NODES or size > TREE_BUDGET:
            out.append('<li><span class="null">… (the rest is not shown)</span></li>')
            out.extend(frame[2] for frame in reversed(stack))
            break
        piece = "<li>"
        if is_mapping:
            key, item = item
            piece += f'<span class="key">{expandable(str(key))}</span> '
        depth = len(stack)
        piece += _open(item, depth, stack, "</li>")
        if len(stack) == depth:  # a scalar or a folded value: the item ends here
            piece += "</li>"
        out.append(piece)
        size += len(piece)
    return Markup("".join(out))
