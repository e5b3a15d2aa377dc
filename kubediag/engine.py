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


# Skip results kept per step and reason: reasons shared by many Services (a type, a namespace, a missing
# client). A reason that names its Service is never asked again: past this many, results are not kept.
MAX_SHARED_SKIPS = 512


class _Step:
    """One check of a chain over one ClusterData: what does not depend on the Service is decided once.
    Results are immutable, so a result that is the same for every Service (a data gap, a pass without
    findings, the same skip reason) is built once and shared by every report."""

    __slots__ = (
        "applies",
        "chk",
        "func",
        "independent",
        "passed",
        "required",
        "skip_with_service",
        "skip_without_service",
        "skips",
    )

    def __init__(self, chk: Check, gaps: _Gaps) -> None:
        self.chk = chk
        # with a declared precondition, `run` tests it itself and calls the body (`_preceded`'s `__wrapped__`),
        # so that it is asked once per Service, not once here and again by the wrapper
        self.applies = chk.applies
        self.func = chk.func if chk.applies is None else getattr(chk.func, "__wrapped__", chk.func)
        self.independent = chk.independent
        self.required = gaps.required
        # the skip decided before the check runs, when the Service exists and when it does not
        first = gaps.unavailable if gaps.unavailable is not None else gaps.not_read
        self.skip_with_service = None if first is None else _skipped(chk, first)
        if gaps.unavailable is not None:
            self.skip_without_service: CheckResult | None = self.skip_with_service
        elif chk.id != EXISTENCE_CHECK:
            self.skip_without_service = _skipped(chk, "the Service does not exist")
        else:
            self.skip_without_service = None if gaps.not_read is None else _skipped(chk, gaps.not_read)
        self.passed = CheckResult(chk.id, chk.title, chk.stage, Outcome.PASSED, findings=(), notes=())
        self.skips: dict[str, CheckResult] = {}

    def skipped(self, reason: str) -> CheckResult:
        res = self.skips.get(reason)
        if res is None:
            res = _skipped(self.chk, reason)
            if len(self.skips) < MAX_SHARED_SKIPS:
                self.skips[reason] = res
        return res

    def run(self, snap: Snapshot, blocked_by: str | None) -> CheckResult:
        """The check's function and its result (the skips decided before it runs are the caller's)."""
        if self.applies is not None and (why := self.applies(snap)) is not None:
            return self.skipped(f"not applicable: {why}")  # what the function would raise first
        try:
            found = tuple(self.func(snap))
        except NotApplicable as exc:
            return self.skipped(f"not applicable: {exc}")
        if blocked_by is not None and not self.independent:
            # what a dependent check sees after the broken link is a symptom, not a second diagnosis
            return self.skipped(f"follows from the root cause {blocked_by}")
        if not found:
            return self.passed
        chk = self.chk
        problems = tuple(f for f in found if f.severity is not Severity.INFO)
        notes = tuple(f.message for f in found if f.severity is Severity.INFO)
        outcome = Outcome.FAILED if problems else Outcome.PASSED
        return CheckResult(chk.id, chk.title, chk.stage, outcome, findings=found, notes=notes)


def _steps(snap: Snapshot, chain: Sequence[Check]) -> list[_Step]:
    """The chain's steps over this data, built once per chain (the steps hold the checks, so their ids
    stay taken while the memo lives)."""
    key = ("engine-steps", tuple(map(id, chain)))
    memo = snap.data.memo
    steps: list[_Step] | None = memo.get(key)
    if steps is None:
        steps = memo[key] = [_Step(chk, _gaps(snap, chk)) for chk in chain]
    return steps


def _run_one(chk: Check, snap: Snapshot, blocked_by: str | None) -> CheckResult:
    """One check of the chain over one Service, as `diagnose` runs it."""
    step = _steps(snap, (chk,))[0]
    pre = step.skip_with_service if snap.service is not None else step.skip_without_service
    return pre if pre is not None else step.run(snap, blocked_by)


def diagnose(snap: Snapshot, checks: Sequence[Check] | None = None) -> Report:
    """Run the chain. After the first critical finding, only independent checks still run."""
    chain = list(checks) if checks is not None else ordered_checks()
    results: list[CheckResult] = []
    blocked_by: str | None = None
    status: Status | None = None
    exists = snap.service is not None
    skipped, failed, critical = Outcome.SKIPPED, Outcome.FAILED, Severity.CRITICAL
    for step in _steps(snap, chain):
        res = step.skip_with_service if exists else step.skip_without_service
        if res is None:
            res = step.run(snap, blocked_by)
        results.append(res)
        outcome = res.outcome
        if outcome is skipped:
            if status is None and step.required:
                status = Status.UNKNOWN  # a data gap before any root cause: we cannot say
        elif outcome is failed and blocked_by is None and any(f.severity is critical for f in res.findings):
            blocked_by = step.chk.id
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
