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
def _audit_head(result: AuditResult) -> dict[str, Any]:
    """The audit document without its Services (`services` is its last key)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": result.generated_at,
        "cluster": {"server": result.server, "version": result.version},
        "scope": result.scope.as_dict(),
        "summary": summary(result),
        "services": [],
    }


def audit_dict(result: AuditResult) -> dict[str, Any]:
    return _audit_head(result) | {"services": [report_dict(r) for r in result.reports]}


def audit_chunks(result: AuditResult) -> Iterator[str]:
    """The `audit -o json` document in pieces, one per Service: the same text as `dumps(audit_dict(result),
    indent=2)`, without ever holding the whole document (at 10,000 Services, its dicts and text were several
    times the size of the snapshot). Each report is indented as a whole document, then shifted two levels
    right: JSON strings escape their line breaks, so every line break of the formatted text is structural."""
    head = dumps(_audit_head(result), indent=2)
    if not result.reports:
        yield head
        return
    empty = "[]\n}"
    assert head.endswith(empty), head[-40:]
    yield head[: -len(empty)] + "[\n"
    last = len(result.reports) - 1
    for i, r in enumerate(result.reports):
        text = dumps(report_dict(r), indent=2)
        yield "    " + text.replace("\n", "\n    ") + (",\n" if i < last else "\n")
    yield "  ]\n}"


def audit(result: AuditResult) -> str:
    """The `audit -o json` document; each Service's entry is exactly its `svc` report."""
    return "".join(audit_chunks(result))


def audit_lines(result: AuditResult) -> Iterator[str]:
    """`audit -o jsonl`: one Service report per line, exactly the `svc` JSON (compact), for log pipelines."""
    for r in result.reports:
        yield dumps(report_dict(r))
