"""Runs the ordered chain over a Snapshot and decides the root cause and status. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.checks.base import Check, NotApplicable, ordered_checks
from kubediag.model import (
    REQUIRED_KINDS,
    CheckResult,
    Finding,
    Outcome,
    Severity,
    Status,
    Unavailable,
)
from kubediag.snapshot import Snapshot

EXISTENCE_CHECK = "KD101"


@dataclass(frozen=True)
class Report:
    namespace: str
    name: str
    service: dict[str, Any] | None
    status: Status
    root_cause: Finding | None
    results: tuple[CheckResult, ...]
    errors: tuple[Unavailable, ...]
    # --probe: what was tried on the data plane (kubediag.probes.ProbeRun); None for reports built without
    # a snapshot's data plane (rendered as "not probed")
    probe: Any = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.results for f in r.findings)

    @property
    def skipped(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.SKIPPED)

    @property
    def worst(self) -> Severity | None:
        sevs = [f.severity for f in self.findings]
        return max(sevs, key=lambda s: s.rank) if sevs else None

    @property
    def incomplete(self) -> bool:
        return bool(self.errors)


def _service_summary(snap: Snapshot) -> dict[str, Any] | None:
    if snap.service is None:
        return None
    spec = snap.spec
    return {
        "namespace": snap.namespace,
        "name": snap.name,
        "type": snap.svc_type,
        "cluster_ip": spec.cluster_ip or None,
        "ports": [
            {
                "name": p.name or None,
                "port": p.port,
                "target_port": p.target,
                "protocol": p.protocol,
                "node_port": p.node_port or None,
            }
            for p in snap.ports
        ],
        "dns": snap.dns_name,
        "selector": dict(snap.selector),
    }


@dataclass(frozen=True)
class _Gaps:
    """What a check's `needs` lack in one ClusterData (the same for every Service of it)."""

    unavailable: str | None  # kinds that could not be read: the skip reason
    not_read: str | None  # kinds not gathered for this Service: the skip reason
    required: bool  # a required kind is missing (status unknown when nothing broke before)


def _gaps(snap: Snapshot, chk: Check) -> _Gaps:
    key = ("engine-gaps", chk.needs)
    memo = snap.data.memo
    if key not in memo:
        missing = [m for k in sorted(chk.needs) if (m := snap.data.missing(k)) is not None]
        real_gaps = [m for m in missing if m.reason != "not-read"]
        memo[key] = _Gaps(
            "; ".join(m.describe() for m in real_gaps) if real_gaps else None,
            f"not applicable: {', '.join(m.kind.value for m in missing)} not needed for this Service"
            if missing
            else None,
            any(snap.data.missing(k) for k in chk.needs & REQUIRED_KINDS),
        )
    return memo[key]  # type: ignore[no-any-return]


def _skipped(chk: Check, reason: str) -> CheckResult:
    return CheckResult(chk.id, chk.title, chk.stage, Outcome.SKIPPED, reason=reason)


def _run_one(chk: Check, snap: Snapshot, blocked_by: str | None) -> CheckResult:
    gaps = _gaps(snap, chk)
    if gaps.unavailable is not None:
        return _skipped(chk, gaps.unavailable)
    if snap.service is None and chk.id != EXISTENCE_CHECK:
        return _skipped(chk, "the Service does not exist")
    if gaps.not_read is not None:
        return _skipped(chk, gaps.not_read)
    try:
        found = tuple(chk.func(snap))
    except NotApplicable as exc:
        return _skipped(chk, f"not applicable: {exc}")
    if blocked_by is not None and not chk.independent:
        # what a dependent check sees after the broken link is a symptom, not a second diagnosis
        return _skipped(chk, f"follows from the root cause {blocked_by}")
    problems = tuple(f for f in found if f.severity is not Severity.INFO)
    notes = tuple(f.message for f in found if f.severity is Severity.INFO)
    outcome = Outcome.FAILED if problems else Outcome.PASSED
    return CheckResult(chk.id, chk.title, chk.stage, outcome, findings=found, notes=notes)


def diagnose(snap: Snapshot, checks: Sequence[Check] | None = None) -> Report:
    """Run the chain. After the first critical finding, only independent checks still run."""
    chain = list(checks) if checks is not None else ordered_checks()
    results: list[CheckResult] = []
    blocked_by: str | None = None
    status: Status | None = None
    for chk in chain:
        res = _run_one(chk, snap, blocked_by)
        results.append(res)
        data_gap = _gaps(snap, chk).required
        if status is None and res.outcome is Outcome.SKIPPED and data_gap:
            status = Status.UNKNOWN  # a data gap before any root cause: we cannot say
        if (
            res.outcome is Outcome.FAILED
            and blocked_by is None
            and any(f.severity is Severity.CRITICAL for f in res.findings)
        ):
            blocked_by = chk.id
            if status is None:
                status = Status.BROKEN
    if snap.service is None and not any(r.check_id == EXISTENCE_CHECK and r.findings for r in results):
        status = Status.UNKNOWN
    findings = [f for r in results for f in r.findings if f.severity is not Severity.INFO]
    if status is None:
        status = Status.DEGRADED if findings else Status.HEALTHY
    root = next((f for f in findings if f.severity is Severity.CRITICAL), None) or next(iter(findings), None)
    errors = tuple(snap.data.unavailable[k] for k in sorted(snap.data.unavailable))
    return Report(
        namespace=snap.namespace,
        name=snap.name,
        service=_service_summary(snap),
        status=status,
        root_cause=root,
        results=tuple(results),
        errors=errors,
        probe=snap.data.data_plane.probe_for(snap.namespace, snap.name) if snap.data.data_plane else None,
    )
