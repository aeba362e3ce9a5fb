"""Every hook is documented where it is declared and in its distribution's README."""

import inspect
from pathlib import Path
from types import ModuleType

import pytest
from toro_monitor import hookspecs as monitor_hookspecs

from toro_core import hookspecs

ROOT = Path(__file__).parent.parent
OWNERS = [
    (hookspecs, ROOT / "README.md"),
    (monitor_hookspecs, ROOT / "plugins" / "toro_monitor" / "README.md"),
]


def hooks(module: ModuleType) -> list[str]:
    return [
        name
        for name, f in vars(module).items()
        if inspect.isfunction(f) and hasattr(f, "toro_spec")
    ]


def test_the_kernel_and_the_monitor_declare_their_hooks():
    assert len(hooks(hookspecs)) >= 12
    assert hooks(monitor_hookspecs) == ["monitor_views", "monitor_endpoints", "monitor_authorize"]
    assert not set(hooks(hookspecs)) & set(hooks(monitor_hookspecs))


@pytest.mark.parametrize(("module", "readme"), OWNERS, ids=["core", "monitor"])
def test_every_hook_has_a_contract_docstring(module, readme):
    for name in hooks(module):
        doc = inspect.getdoc(getattr(module, name)) or ""
        assert "Called" in doc or "Observe" in doc, name
        assert ("async" in doc.lower()) or ("Synchronous" in doc), (
            f"{name}: say whether it may be async"
        )


@pytest.mark.parametrize(("module", "readme"), OWNERS, ids=["core", "monitor"])
def test_every_hook_is_in_the_readme(module, readme):
    text = readme.read_text()
    for name in hooks(module):
        assert f"`{name}`" in text, f"{readme.name} does not document hook {name}"


def test_every_name_of_the_plugin_api_is_in_the_readme():
    import toro_core.plugin

    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("### Writing a plugin", 1)[1].split("### Hooks", 1)[0]
    missing = [
        name
        for name in toro_core.plugin.__all__
        if f"`{name}`" not in section and f"`{name}(" not in section
    ]
    assert not missing, f"the README's plugin API table does not list {missing}"
