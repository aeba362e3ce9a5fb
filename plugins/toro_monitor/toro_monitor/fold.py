"""Long values cut for lists and folded for details: every page stays small.

:func:`clip` cuts a text for a list; :func:`expandable` and :func:`text_block` show a long
value's beginning and fold the rest into a ``<details>`` element, itself cut at
:data:`~toro_monitor.limits.DETAIL_TEXT` characters. They return
:class:`~markupsafe.Markup` and escape every text they hold.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from toro_monitor.limits import DETAIL_TEXT, LIST_TEXT, PRE_INLINE, SUMMARY


def clip(value: Any, limit: int = LIST_TEXT) -> str:
    """``value`` as text of at most ``limit`` characters, ``…`` marking a cut (for lists)."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _more(text: str) -> str:
    if len(text) <= DETAIL_TEXT:
        return ""
    return f'<p class="null">(cut: {len(text) - DETAIL_TEXT:,} more characters)</p>'


def expandable(value: Any, limit: int = SUMMARY) -> Markup:
    """``value`` as escaped text; beyond ``limit`` characters its beginning, with the rest
    folded in a ``<details>`` (itself cut at ``DETAIL_TEXT`` characters)."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return escape(text)
    return Markup(
        f'<details class="long"><summary>{escape(text[:limit])}…'
        f' <span class="null">({len(text):,} characters)</span></summary>'
        f'<div class="full">{escape(text[:DETAIL_TEXT])}</div>{_more(text)}</details>'
    )


def text_block(value: Any, css: str = "value", cut: bool = False) -> Markup:
    """Preformatted text (a backtrace, JSON): whole up to ``PRE_INLINE`` characters, else its
    beginning with the rest folded. ``cut`` says the text was already cut short."""
    text = "" if value is None else str(value)
    note = '<p class="null">(cut)</p>' if cut else ""
    if len(text) <= PRE_INLINE:
        return Markup(f'<pre class="{css}">{escape(text)}</pre>{note}')
    return Markup(
        f'<pre class="{css}">{escape(text[:SUMMARY])}…</pre>'
        f'<details class="long"><summary>all of it ({len(text):,}'
        f"{'+' if cut else ''} characters)</summary>"
        f'<pre class="{css}">{escape(text[:DETAIL_TEXT])}</pre>{_more(text) or note}</details>'
    )
