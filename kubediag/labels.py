"""Label selectors: the Service's map selector and metav1.LabelSelector (matchLabels + matchExpressions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubediag.objects import KubeObject


def labels_of(obj: KubeObject) -> Mapping[str, str]:
    return obj.metadata.labels


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector: every key=value must be present. (An empty selector is handled by the caller.)"""
    return all(labels.get(k) == v for k, v in selector.items())


def expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    values = [str(v) for v in (expr.get("values") or [])]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (the API server rejects it anyway)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: None selects nothing, {} selects everything; terms are ANDed."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels") or {}
    if not map_selector_matches(match_labels, labels):
        return False
    return all(expression_matches(e, labels) for e in (selector.get("matchExpressions") or []))


def format_selector(selector: Mapping[str, Any] | None) -> str:
    """kubectl-style text: app=web,tier in (a,b),!legacy. `{}` is '<all>'."""
    if selector is None:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), ",".join(e.get("values") or [])
        parts.append(
            {
                "In": f"{key} in ({vals})",
                "NotIn": f"{key} notin ({vals})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(str(op), f"{key} {op} ({vals})")
        )
    return ",".join(parts) if parts else "<all>"


def format_map(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"
