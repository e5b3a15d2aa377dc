"""`kubediag audit`: every Service in a scope through the same chain as `svc`, a summary, cluster-wide findings.

Pure: the gatherer (`gather.gather_scope`) reads the scope in bulk into one `ClusterData`, whose indexes make
the run O(services + pods); this module diagnoses each Service with `engine.diagnose` and runs the
cluster-wide checks of the check table (KDAnn, kubediag/checks/cluster.py) once over the Services in scope.
Rendering is in kubediag/render/ (each Service's JSON entry is exactly the `svc` report).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubediag.checks.base import Fleet, cluster_checks, ordered_checks
from kubediag.engine import Report, diagnose
from kubediag.model import ClusterResult, ExitCode, Kind, Severity, Status, Unavailable
from kubediag.objects import Service
from kubediag.scope import Scope as Scope  # re-exported: callers write audit.Scope
from kubediag.snapshot import ClusterData, Snapshot

STATUSES: tuple[Status, ...] = (Status.HEALTHY, Status.DEGRADED, Status.BROKEN, Status.UNKNOWN)
# Worst first, for listing the Services that are not healthy.
_STATUS_ORDER = {Status.BROKEN: 0, Status.UNKNOWN: 1, Status.DEGRADED: 2, Status.HEALTHY: 3}


# ---- scope (the dataclass lives in kubediag/scope.py, shared with the cluster-wide checks) ------------------
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}"
_VALUE = rf"({_NAME})?"
_REQUIREMENT = re.compile(
    rf"\s*(?:!\s*{_KEY}"
    rf"|{_KEY}\s*(?:(?:==|!=|=)\s*{_VALUE}|\s(?:in|notin)\s*\(\s*{_VALUE}(\s*,\s*{_VALUE})*\s*\)|[<>]\s*-?\d+)?)\s*"
)


def label_selector_error(selector: str) -> str | None:
    """Why `selector` is not a valid label selector (kubectl syntax), or None. Checked before any request."""
    if not selector.strip():
        return "the label selector is empty"
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        if not _REQUIREMENT.fullmatch(part):
            return f"invalid label selector {selector!r}: cannot parse {part.strip()!r}"
    return None


# ---- the run ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditResult:
    scope: Scope
    reports: tuple[Report, ...]
    cluster: tuple[ClusterResult, ...]
    unavailable: tuple[Unavailable, ...]
    server: str = ""
    version: str = ""
    generated_at: str = ""

    @property
    def incomplete(self) -> bool:
        return bool(self.unavailable)


def services_in_scope(data: ClusterData, scope: Scope) -> list[Service]:
    """The Services to diagnose, sorted by namespace and name."""
    return sorted(
        (s for s in data.services if scope.includes(s.metadata.namespace)),
        key=lambda s: (s.metadata.namespace, s.metadata.name),
    )


def run(
    data: ClusterData,
    scope: Scope,
    *,
    server: str = "",
    version: str = "",
    generated_at: str = "",
    on_service: Callable[[], None] | None = None,
) -> AuditResult:
    """Diagnose every Service in scope with the `svc` chain. Pure; O(services + pods) given the indexes."""
    services = services_in_scope(data, scope)
    fleet = Fleet(data, services, scope)
    chain = ordered_checks()
    reports: list[Report] = []
    for svc in services:
        reports.append(diagnose(Snapshot(svc.metadata.namespace, svc.metadata.name, data), chain))
        if on_service is not None:
            on_service()
    return AuditResult(
        scope=scope,
        reports=tuple(reports),
        cluster=tuple(chk.run(fleet) for chk in cluster_checks()),
        unavailable=tuple(data.unavailable[k] for k in sorted(data.unavailable)),
        server=server or data.server,
        version=version,
        generated_at=generated_at,
    )


def exit_code(result: AuditResult, fail_on: Severity = Severity.CRITICAL) -> ExitCode:
    """As for `svc`, on the worst Service: 4 if any status is unknown, else 1 on a finding at or above
    `fail_on`, else 0. No Service could be listed at all (Services, pods or EndpointSlices unreadable): 4."""
    if any(u.kind is Kind.SERVICE for u in result.unavailable):
        return ExitCode.UNKNOWN
    code = ExitCode.OK
    for r in result.reports:
        if r.status is Status.UNKNOWN:
            return ExitCode.UNKNOWN
        if r.worst is not None and r.worst.rank >= fail_on.rank:
            code = ExitCode.FINDINGS
    return code


def _skipped_by(kind: Kind) -> list[str]:
    return [c.id for c in ordered_checks() if kind in c.needs]


def summary(result: AuditResult) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    per_ns: dict[str, Counter[str]] = {}
    causes: Counter[str] = Counter()
    for r in result.reports:
        by_status[r.status.value] += 1
        per_ns.setdefault(r.namespace, Counter())[r.status.value] += 1
        if r.root_cause is not None and r.status is not Status.HEALTHY:
            causes[r.root_cause.category.value] += 1
    worst = min((r.status for r in result.reports), key=_STATUS_ORDER.__getitem__, default=None)
    return {
        "services": len(result.reports),
        "status": {s.value: by_status[s.value] for s in STATUSES},
        "worst": worst.value if worst else None,
        "namespaces": {ns: {s.value: c[s.value] for s in STATUSES} for ns, c in sorted(per_ns.items())},
        "root_causes": [
            {"category": cat, "count": n} for cat, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "cluster_findings": [c.as_dict() for c in result.cluster],
        "incomplete": result.incomplete,
        "missing_permissions": [u.detail for u in result.unavailable if u.reason == "forbidden"],
        "errors": [
            {
                "kind": u.kind.value,
                "reason": u.reason,
                "detail": u.detail,
                "checks_skipped": _skipped_by(u.kind),
            }
            for u in result.unavailable
        ],
    }


# ---- one line per Service that is not healthy ------------------------------------------------------------
def not_healthy(result: AuditResult) -> list[Report]:
    return sorted(
        (r for r in result.reports if r.status is not Status.HEALTHY),
        key=lambda r: (_STATUS_ORDER[r.status], r.namespace, r.name),
    )
