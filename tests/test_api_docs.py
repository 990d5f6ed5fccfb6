"""Every public name of the package appears in the API pages of the docs.

A module's public names are its ``__all__``, or, without one, the functions
and classes it defines whose names do not start with ``_``. A name counts as
documented when an autodoc directive of ``docs/*.rst`` names it (or the same
object under another module), or when an ``automodule`` directive without
``:no-members:`` covers its module and the name has a docstring (for data, a
``#:`` comment), which is what autodoc needs to list it.
"""

import importlib
import inspect
import pathlib
import pkgutil
import re

import pytest

import linked_neurons

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
DIRECTIVE = re.compile(
    r"^\.\. (?:auto)?(module|currentmodule|class|function|data|exception|method|attribute)"
    r"::\s*(\S+)\s*$|^\.\. py:(module|currentmodule|class|function|data)::\s*(\S+)",
)


def _public_modules():
    names = ["linked_neurons"] + [
        m.name for m in pkgutil.walk_packages(linked_neurons.__path__, "linked_neurons.")
    ]
    return [n for n in names if not any(p.startswith("_") for p in n.split("."))]


def _public_names(module):
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if not n.startswith("__")]
    return sorted(
        n for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    )


def _attr_docs(module):
    from sphinx.pycode import ModuleAnalyzer

    try:
        return {name for (_, name) in ModuleAnalyzer.for_module(module.__name__).find_attr_docs()}
    except Exception:  # noqa: BLE001 - no source: no attribute docs
        return set()


def _has_doc(module, name):
    obj = getattr(module, name)
    if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
        return bool(inspect.getdoc(obj))
    return name in _attr_docs(module)


def _resolve(dotted):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            return None
        return obj
    return None


def _documented():
    """(ids of the objects named by directives, modules covered by automodule)."""
    objects, covered = set(), set()
    for path in sorted(DOCS.rglob("*.rst")):
        current = None
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = DIRECTIVE.match(line.strip())
            if not match:
                continue
            kind = match.group(1) or match.group(3)
            target = match.group(2) or match.group(4)
            if kind in ("module", "currentmodule"):
                current = target
                module = _resolve(target)
                if module is not None:
                    objects.add(id(module))
                options = []
                for follow in lines[i + 1:]:
                    if not follow.startswith("   :"):
                        break
                    options.append(follow.strip())
                if line.strip().startswith(".. automodule::") and ":no-members:" not in options:
                    covered.add(target)
                continue
            dotted = target if target.startswith("linked_neurons") or current is None else (
                f"{current}.{target}")
            obj = _resolve(dotted)
            if obj is not None:
                objects.add(id(obj))
    return objects, covered


def _missing():
    objects, covered = _documented()
    # What an automodule lists is documented wherever else it is re-exported.
    for name in covered:
        module = importlib.import_module(name)
        objects.update(
            id(getattr(module, attr)) for attr in _public_names(module) if _has_doc(module, attr)
        )
    missing = []
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in _public_names(module):
            obj = getattr(module, attr)
            if id(obj) in objects:
                continue
            if name in covered and _has_doc(module, attr):
                continue
            missing.append(f"{name}.{attr}")
    return missing


def test_every_public_name_is_in_the_api_pages():
    missing = _missing()
    assert not missing, f"{len(missing)} public names missing from docs/: {missing}"


@pytest.mark.parametrize("module", ["linked_neurons.layers", "linked_neurons.efficientmixnet"])
def test_the_check_sees_documented_names(module):
    objects, _ = _documented()
    mod = importlib.import_module(module)
    assert any(id(getattr(mod, n)) in objects for n in mod.__all__)
