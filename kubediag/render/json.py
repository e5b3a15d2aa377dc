"""JSON, the bots' contract: the `svc` report, the `audit` document and its JSON Lines. Every check is
kept (bots want all of it); schemas in kubediag/schemas/ (svc-report, audit-report)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubediag.audit import AuditResult, summary
from kubediag.engine import Report
from kubediag.jsontext import dumps
from kubediag.model import Severity

SCHEMA_VERSION = "1"


# ---- svc ---------------------------------------------------------------------------------------------------
def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "service": report.service
        or {
            "namespace": report.namespace,
            "name": report.name,
            "type": None,
            "cluster_ip": None,
            "ports": [],
            "dns": f"{report.name}.{report.namespace}.svc.cluster.local",
            "selector": {},
        },
        "status": report.status.value,
        "root_cause": report.root_cause.as_dict() if report.root_cause else None,
        "findings": [f.as_dict() for f in report.findings if f.severity is not Severity.INFO],
        "notes": [f.as_dict() for f in report.findings if f.severity is Severity.INFO],
        "checks": [  # `_value_`: the member's value without the `value` descriptor (40 per Service in audit)
            {
                "check_id": r.check_id,
                "title": r.title,
                "stage": r.stage._value_,
                "outcome": r.outcome._value_,
                **({"reason": r.reason} if r.reason else {}),
            }
            for r in report.results
        ],
        "skipped": [{"check_id": r.check_id, "reason": r.reason} for r in report.skipped],
        "errors": [{"kind": e.kind.value, "reason": e.reason, "detail": e.detail} for e in report.errors],
        "probe": probe_dict(report),
    }


def probe_dict(report: Report) -> dict[str, Any]:
    """JSON `probe`: what --probe tried per endpoint and what came back; "not-probed" without --probe."""
    from kubediag.probes import NOT_PROBED

    run = report.probe if report.probe is not None else NOT_PROBED
    return run.as_dict()


def report(r: Report) -> str:
    """The `svc -o json` document."""
    return dumps(report_dict(r), indent=2)


# ---- audit -------------------------------------------------------------------------------------------------
def audit_dict(result: AuditResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": result.generated_at,
        "cluster": {"server": result.server, "version": result.version},
        "scope": result.scope.as_dict(),
        "summary": summary(result),
        "services": [report_dict(r) for r in result.reports],
    }


def audit(result: AuditResult) -> str:
    """The `audit -o json` document; each Service's entry is exactly its `svc` report."""
    return dumps(audit_dict(result), indent=2)


def audit_lines(result: AuditResult) -> Iterator[str]:
    """`audit -o jsonl`: one Service report per line, exactly the `svc` JSON (compact), for log pipelines."""
    for r in result.reports:
        yield dumps(report_dict(r))
