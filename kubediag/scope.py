"""What an `audit` covers (namespaces, exclusions, a label selector): used by `audit` to pick the Services
and by the cluster-wide checks to know where absence can be judged (kubediag/checks/cluster.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scope:
    """What `audit` covers: every namespace (`namespaces=None`) or some, minus exclusions, Services by label."""

    namespaces: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()
    label_selector: str | None = None

    def includes(self, namespace: str) -> bool:
        if namespace in self.exclude:
            return False
        return self.namespaces is None or namespace in self.namespaces

    def as_dict(self) -> dict[str, Any]:
        return {
            "all_namespaces": self.namespaces is None,
            "namespaces": list(self.namespaces or ()),
            "excluded_namespaces": sorted(self.exclude),
            "label_selector": self.label_selector,
        }

    def describe(self) -> str:
        where = (
            "all namespaces"
            if self.namespaces is None
            else "namespace" + ("s " if len(self.namespaces) > 1 else " ") + ", ".join(self.namespaces)
        )
        if self.exclude:
            where += " except " + ", ".join(sorted(self.exclude))
        if self.label_selector:
            where += f", Services with labels {self.label_selector}"
        return where
