"""Stand-ins for names a library imports at its top but uses only on paths kubediag rarely takes: the real
class or module is imported on first use. Used to import typer's help renderer without rich's markdown and
traceback modules (kubediag.cli) and the kubernetes client's kubeconfig loader without its OIDC refresh
dependencies (kubediag.kubeclient). Standard library only: `--help` imports it."""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any


class _DeferredMeta(type):
    """A stand-in class whose attributes and construction load the real one."""

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real(), name)


def deferred_class(module: str, name: str) -> type:
    """A stand-in for class `module.name`: constructing it returns an instance of the real class."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    return _DeferredMeta(name, (), {"__new__": lambda cls, *a, **k: real()(*a, **k), "_real": staticmethod(real)})


def deferred_module(name: str, **names: Any) -> types.ModuleType:
    """A stand-in for module `name` holding `names`; any other attribute is the real module's (imported then).
    It is a package, so that `import name.sub` can bind it."""
    stub = types.ModuleType(name)
    stub.__path__ = []
    for attr, value in names.items():
        setattr(stub, attr, value)

    def getattr_(attr: str) -> Any:
        return getattr(importlib.import_module(name), attr)

    stub.__getattr__ = getattr_  # type: ignore[method-assign]
    return stub


@contextlib.contextmanager
def standing_in(modules: Mapping[str, types.ModuleType]) -> Iterator[None]:
    """`modules` in sys.modules for the time of the block, except names already imported for real; then
    removed again (a module imported meanwhile keeps the stand-in it bound)."""
    added = {name: module for name, module in modules.items() if name not in sys.modules}
    sys.modules.update(added)
    try:
        yield
    finally:
        for name, module in added.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
