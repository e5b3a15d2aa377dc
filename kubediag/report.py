"""Rendering a Report: JSON (the bots' contract), Markdown (tickets) and text (people, via rich).

Object text is untrusted: in the terminal it is printed literally (rich Text, never markup), and control
characters are shown escaped so a label value can never drive the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kubediag.engine import Report
from kubediag.model import CheckResult, Evidence, Finding, Outcome, Severity, Status

SCHEMA_VERSION = "1"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: object) -> str:
    """Printable text: control characters (ESC, CSI, bidi overrides...) become visible \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


# ---- JSON -------------------------------------------------------------------------------------------------
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
        "checks": [
            {
                "check_id": r.check_id,
                "title": r.title,
                "stage": r.stage.value,
                "outcome": r.outcome.value,
                **({"reason": r.reason} if r.reason else {}),
            }
            for r in report.results
        ],
        "skipped": [{"check_id": r.check_id, "reason": r.reason} for r in report.skipped],
        "errors": [{"kind": e.kind.value, "reason": e.reason, "detail": e.detail} for e in report.errors],
        "probe": probe_dict(report),
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=False)


# ---- Markdown ---------------------------------------------------------------------------------------------
def _md(text: object) -> str:
    return sanitize(text).replace("|", "\\|").replace("`", "'")


def _ports_line(svc: Mapping[str, Any]) -> str:
    parts = []
    for p in svc.get("ports") or []:
        name = f"{p['name']} " if p.get("name") else ""
        node = f" (nodePort {p['node_port']})" if p.get("node_port") else ""
        parts.append(f"{name}{p.get('port')}→{p.get('target_port')}/{p.get('protocol')}{node}")
    return ", ".join(parts) or "none"


def to_markdown(report: Report) -> str:
    d = report_dict(report)
    svc = d["service"]
    lines = [f"### kubediag: Service `{_md(svc['namespace'])}/{_md(svc['name'])}` is **{d['status']}**", ""]
    lines.append(
        f"- DNS: `{svc['dns']}` · type {svc.get('type') or '-'} · ClusterIP {svc.get('cluster_ip') or '-'}"
        f" · ports {_md(_ports_line(svc))}"
    )
    rc = report.root_cause
    if rc:
        lines += [
            "",
            f"**Root cause** ({rc.check_id} `{rc.category.value}`, {rc.severity.value}): {_md(rc.message)}",
            "",
            "| object | field | observed | expected |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_md(_obj(e))} | {_md(e.field)} | {_md(e.observed).replace(chr(10), '<br>')} | {_md(e.expected)} |"
            for e in rc.evidence
        ]
        lines += ["", "**Fix**", "", "```", sanitize(rc.remediation), "```"]
    lines += ["", "| check | result |", "|---|---|"]
    for r in report.results:
        mark = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⏭ skipped"}[r.outcome.value]
        extra = f": {_md(r.reason)}" if r.reason else ""
        lines.append(f"| {r.check_id} {_md(r.title)} | {mark}{extra} |")
    others = [f for f in report.findings if f is not rc and f.severity is not Severity.INFO]
    if others:
        lines += ["", "**Also found**", ""]
        lines += [
            f"- {f.check_id} `{f.category.value}` ({f.severity.value}): {_md(f.message)}" for f in others
        ]
    notes = [f for f in report.findings if f.severity is Severity.INFO]
    if notes:
        lines += ["", "**Notes**", ""] + [f"- {f.check_id}: {_md(f.message)}" for f in notes]
    lines += probe_markdown(report)
    if report.errors:
        lines += ["", "**Incomplete**: " + "; ".join(_md(e.describe()) for e in report.errors)]
    return "\n".join(lines) + "\n"


def _obj(e: Evidence) -> str:
    return f"{e.kind}/{e.namespace + '/' if e.namespace else ''}{e.name}"


# ---- Text (rich) -------------------------------------------------------------------------------------------
_STATUS_STYLE = {
    Status.HEALTHY: "bold green",
    Status.DEGRADED: "bold yellow",
    Status.BROKEN: "bold red",
    Status.UNKNOWN: "bold magenta",
}
_SEV_STYLE = {Severity.CRITICAL: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_MARK = {Outcome.PASSED: ("✓", "green"), Outcome.FAILED: ("✗", "red"), Outcome.SKIPPED: ("-", "dim")}


def safe_text(*parts: tuple[object, str] | object) -> Any:
    """A rich Text from plain parts or (text, style) pairs: object text is never markup, and control
    characters are shown escaped."""
    from rich.text import Text

    out = Text()
    for p in parts:
        if isinstance(p, tuple):
            out.append(sanitize(p[0]), style=p[1])
        else:
            out.append(sanitize(p))
    return out


def render_text(report: Report, console: Any) -> None:
    """Print to a rich Console. Every piece of object text goes in as plain Text (never markup)."""
    t = safe_text

    d = report_dict(report)
    svc = d["service"]
    console.print(t(("Service ", "bold"), (f"{svc['namespace']}/{svc['name']}", "bold"), f"  {svc['dns']}"))
    if report.service:
        console.print(
            t(f"  type {svc['type']} · ClusterIP {svc.get('cluster_ip') or '-'} · ports ", _ports_line(svc))
        )
    console.print(t("  status: ", (report.status.value.upper(), _STATUS_STYLE[report.status])))
    rc = report.root_cause
    console.print()
    if rc:
        label = "Root cause" if rc.severity is Severity.CRITICAL else "Main problem"
        console.print(
            t(
                (f"{label}: ", "bold"),
                (f"{rc.check_id} {rc.category.value} ({rc.severity.value})", _SEV_STYLE[rc.severity]),
            )
        )
        console.print(t("  ", rc.message))
        _evidence(console, t, rc)
        console.print(t(("  Fix:", "bold")))
        for line in rc.remediation.splitlines():
            console.print(t("    ", (line, "green")))
    elif report.status is Status.UNKNOWN:
        console.print(t(("Status unknown: ", "bold magenta"), "data the diagnosis needs could not be read"))
    else:
        console.print(t(("No problem found on the Service's path.", "bold green")))
    console.print()
    console.print(t(("Chain", "bold")))
    for r in report.results:
        _result_line(console, t, r)
    others = [f for f in report.findings if f is not rc and f.severity is not Severity.INFO]
    if others:
        console.print()
        console.print(t(("Also found", "bold")))
        for f in others:
            console.print(
                t(
                    "  ",
                    (f"{f.check_id} {f.category.value} ({f.severity.value})", _SEV_STYLE[f.severity]),
                    ": ",
                    f.message,
                )
            )
            console.print(t("    fix: ", f.remediation.splitlines()[0] if f.remediation else ""))
    notes = [f for f in report.findings if f.severity is Severity.INFO]
    if notes:
        console.print()
        console.print(t(("Notes", "bold")))
        for f in notes:
            console.print(t("  ", (f.check_id, "cyan"), " ", f.message))
    render_probe_text(report, console)
    if report.errors:
        console.print()
        console.print(t(("Incomplete: ", "bold magenta"), "; ".join(e.describe() for e in report.errors)))


def _evidence(console: Any, t: Any, f: Finding) -> None:
    for e in f.evidence:
        if "\n" in e.observed:  # a log tail: one line each, indented, printed literally
            console.print(t("  · ", (_obj(e), "bold"), f" {e.field}:"))
            for line in e.observed.splitlines():
                console.print(t("      │ ", line))
            continue
        console.print(
            t(
                "  · ",
                (_obj(e), "bold"),
                f" {e.field}: ",
                (e.observed, "red"),
                " (expected ",
                (e.expected, "green"),
                ")",
            )
        )


def _result_line(console: Any, t: Any, r: CheckResult) -> None:
    mark, style = _MARK[r.outcome]
    worst = max(
        (f.severity for f in r.findings if f.severity is not Severity.INFO),
        key=lambda s: s.rank,
        default=None,
    )
    if worst is Severity.WARNING:
        mark, style = "!", "yellow"
    line = t("  ", (mark, style), f" {r.check_id} ", r.title)
    if r.reason:
        line.append(sanitize(f"  ({r.reason})"), style="dim")
    console.print(line)


# ---- the data plane (--probe): kept in these three functions so they can move with the rest of rendering ----
def probe_dict(report: Report) -> dict[str, Any]:
    """JSON `probe`: what --probe tried per endpoint and what came back; "not-probed" without --probe."""
    from kubediag.probes import NOT_PROBED

    run = report.probe if report.probe is not None else NOT_PROBED
    return run.as_dict()


def _probe_lines(report: Report) -> tuple[str, list[tuple[str, str, str]]]:
    """(headline, [(endpoint, tried, result)]) shared by text and Markdown."""
    d = probe_dict(report)
    if d["state"] == "not-probed":
        if str(d["reason"] or "").startswith("not probed:"):
            return str(d["reason"]), []
        return "not probed (run with --probe to test connections to the pods through the API server)", []
    if d["state"] == "skipped":
        return str(d["reason"]), []
    if not d["results"]:
        return f"probed: {d['reason'] or 'nothing to probe'}", []
    pods = {r["pod"] for r in d["results"]}
    head = (
        f"probed {len(pods)} of {d['ready_endpoints']} ready endpoint(s) through the API server "
        f"(port-forward; sample {d['sample']})"
    )
    rows = []
    for r in d["results"]:
        role = {"service": f"Service port {r['service_port']}", "declared": "declared port"}.get(r["role"], "other port")
        if r["outcome"] == "http":  # the status line as it came back
            result = str(r["detail"] or f"HTTP {r['http_status']}")
        else:
            result = r["outcome"] + (f": {r['detail']}" if r["detail"] else "")
        rows.append((f"pod/{r['pod']}", f"{r['tried']} ({role})", result))
    return head, rows


def render_probe_text(report: Report, console: Any) -> None:
    t = safe_text
    head, rows = _probe_lines(report)
    console.print()
    console.print(t(("Data plane: ", "bold"), head))
    for endpoint, tried, result in rows:
        style = "green" if result.startswith(("open", "HTTP 2", "HTTP 3", "HTTP 4")) else (
            "yellow" if result.startswith(("inconclusive", "not probed", "timed out")) else "red"
        )
        console.print(t("  ", endpoint, " ", tried, " → ", (result, style)))


def probe_markdown(report: Report) -> list[str]:
    head, rows = _probe_lines(report)
    lines = ["", f"**Data plane**: {_md(head)}"]
    if rows:
        lines += ["", "| endpoint | tried | result |", "|---|---|---|"]
        lines += [f"| {_md(e)} | {_md(tr)} | {_md(res)} |" for e, tr, res in rows]
    return lines
