"""Every hook is documented where it is declared and in the README."""

import inspect
from pathlib import Path

from toro_core import hookspecs

README = (Path(__file__).parent.parent / "README.md").read_text()
HOOKS = [
    name for name, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "toro_spec")
]


def test_every_hook_has_a_contract_docstring():
    assert len(HOOKS) >= 12
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc or "Observe" in doc, name
        assert ("async" in doc.lower()) or ("Synchronous" in doc), (
            f"{name}: say whether it may be async"
        )


def test_every_hook_is_in_the_readme():
    for name in HOOKS:
        assert f"`{name}`" in README, f"README does not document hook {name}"
