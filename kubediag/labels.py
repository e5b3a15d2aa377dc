"""Label selectors: the Service's map selector and metav1.LabelSelector (matchLabels + matchExpressions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubediag.objects import KubeObject, LabelSelector, LabelSelectorRequirement


def labels_of(obj: KubeObject) -> Mapping[str, str]:
    return obj.metadata.labels


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector: every key=value must be present. (An empty selector is handled by the caller.)"""
    return all(labels.get(k) == v for k, v in selector.items())


def map_selector_filter(selector: Mapping[str, str], objs: Iterable[KubeObject]) -> tuple[Any, ...]:
    """The objects whose labels `map_selector_matches` the selector, in order (one loop, no call per object)."""
    pairs = tuple(selector.items())
    out = []
    for o in objs:
        labels = o.metadata.labels
        for k, v in pairs:
            if labels.get(k) != v:
                break
        else:
            out.append(o)
    return tuple(out)


def expression_matches(req: LabelSelectorRequirement, labels: Mapping[str, str]) -> bool:
    """One matchExpressions term (In, NotIn, Exists, DoesNotExist)."""
    key, op = req.key, req.operator
    if op == "In":
        return key in labels and labels[key] in req.values
    if op == "NotIn":
        return key not in labels or labels[key] not in req.values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (the API server rejects it anyway)


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: None selects nothing, {} selects everything; terms are ANDed."""
    if selector is None:
        return False
    if not map_selector_matches(selector.match_labels, labels):
        return False
    return all(expression_matches(e, labels) for e in selector.match_expressions)


def format_selector(selector: LabelSelector | None) -> str:
    """kubectl-style text: app=web,tier in (a,b),!legacy. `{}` is '<all>'."""
    if selector is None:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted(selector.match_labels.items())]
    for e in selector.match_expressions:
        key, op, vals = e.key, e.operator, ",".join(e.values)
        parts.append(
            {
                "In": f"{key} in ({vals})",
                "NotIn": f"{key} notin ({vals})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(op, f"{key} {op} ({vals})")
        )
    return ",".join(parts) if parts else "<all>"


def format_map(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"
