"""Small pure helpers for names: edit distance, close names, DNS name validation."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute), O(len(a) * len(b))."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def is_close(a: str, b: str, max_distance: int = 2) -> bool:
    """Same but for case, separators, or a couple of edits (`front-end` ~ `frontend`, `Web` ~ `web`)."""
    if a == b:
        return False
    fold_a, fold_b = a.lower().replace("-", "").replace("_", ""), b.lower().replace("-", "").replace("_", "")
    if fold_a == fold_b:
        return True
    return abs(len(a) - len(b)) <= max_distance and _within(a.lower(), b.lower(), max_distance)


def _within(a: str, b: str, k: int) -> bool:
    """edit_distance(a, b) <= k, giving up as soon as a whole row exceeds k. Only the cells within k of the
    diagonal are computed (any other is more than k), and values are capped at k + 1: the answer is the same."""
    lb = len(b)
    if abs(len(a) - lb) > k:
        return False
    big = k + 1
    prev = [j if j <= k else big for j in range(lb + 1)]
    for i, ca in enumerate(a, 1):
        cur = [big] * (lb + 1)
        if i <= k:
            cur[0] = i
        row_min = cur[0]
        for j in range(max(1, i - k), min(lb, i + k) + 1):
            v = prev[j - 1] + (ca != b[j - 1])
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            if v > big:
                v = big
            cur[j] = v
            if v < row_min:
                row_min = v
        if row_min > k:
            return False
        prev = cur
    return prev[lb] <= k


def closest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Candidates close to `name`, nearest first."""
    scored = sorted(
        {(edit_distance(name.lower(), c.lower()), c) for c in candidates if c != name and is_close(name, c)}
    )
    return [c for _, c in scored[:limit]]


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1035_LABEL.match(value))


def is_dns1123_subdomain(value: str) -> bool:
    return 0 < len(value) <= 253 and all(is_dns1123_label(p) for p in value.split("."))


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def env_prefix(service_name: str) -> str:
    """The prefix of a Service's discovery variables: `my-svc` -> `MY_SVC` (MY_SVC_SERVICE_HOST)."""
    return service_name.upper().replace("-", "_")
