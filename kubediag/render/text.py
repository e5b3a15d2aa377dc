"""Text for people in the terminal (rich): the `svc` report and the `audit` summary.

Every piece of object text goes in as plain Text (never markup) with control characters escaped.
"""

from __future__ import annotations

from typing import Any

from kubediag.audit import AuditResult, not_healthy, summary
from kubediag.engine import Report
from kubediag.model import CheckResult, Finding, Kind, Outcome, Severity, Status
from kubediag.render.common import (
    cause_line,
    checks_line,
    object_ref,
    ports_line,
    probe_lines,
    safe_text,
    sanitize,
)
from kubediag.render.json import report_dict

_STATUS_STYLE = {
    Status.HEALTHY: "bold green",
    Status.DEGRADED: "bold yellow",
    Status.BROKEN: "bold red",
    Status.UNKNOWN: "bold magenta",
}
_SEV_STYLE = {Severity.CRITICAL: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_MARK = {Outcome.PASSED: ("✓", "green"), Outcome.FAILED: ("✗", "red"), Outcome.SKIPPED: ("-", "dim")}


# ---- svc ---------------------------------------------------------------------------------------------------
def report(r: Report, console: Any, verbose: bool = False) -> None:
    """Print a `svc` report to a rich Console: header, root cause with evidence and fix, the other findings,
    then one line counting the checks; `verbose` lists every check of the chain instead of that line."""
    t = safe_text

    d = report_dict(r)
    svc = d["service"]
    console.print(t(("Service ", "bold"), (f"{svc['namespace']}/{svc['name']}", "bold"), f"  {svc['dns']}"))
    if r.service:
        console.print(
            t(f"  type {svc['type']} · ClusterIP {svc.get('cluster_ip') or '-'} · ports ", ports_line(svc))
        )
    console.print(t("  status: ", (r.status.value.upper(), _STATUS_STYLE[r.status])))
    rc = r.root_cause
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
        _evidence(console, rc)
        console.print(t(("  Fix:", "bold")))
        for line in rc.remediation.splitlines():
            console.print(t("    ", (line, "green")))
    elif r.status is Status.UNKNOWN:
        console.print(t(("Status unknown: ", "bold magenta"), "data the diagnosis needs could not be read"))
    else:
        console.print(t(("No problem found on the Service's path.", "bold green")))
    if verbose:
        console.print()
        console.print(t(("Chain", "bold")))
        for res in r.results:
            _result_line(console, res)
    others = [f for f in r.findings if f is not rc and f.severity is not Severity.INFO]
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
    notes = [f for f in r.findings if f.severity is Severity.INFO]
    if notes:
        console.print()
        console.print(t(("Notes", "bold")))
        for f in notes:
            console.print(t("  ", (f.check_id, "cyan"), " ", f.message))
    _probe(r, console)
    if r.errors:
        console.print()
        console.print(t(("Incomplete: ", "bold magenta"), "; ".join(e.describe() for e in r.errors)))
    if not verbose:
        console.print()
        console.print(t((checks_line(r), "dim"), ("  (-v lists them)", "dim")))


def _probe(report: Report, console: Any) -> None:
    """The data plane (--probe): per endpoint what was tried and what came back."""
    head, rows = probe_lines(report)
    console.print()
    console.print(safe_text(("Data plane: ", "bold"), head))
    for endpoint, tried, result in rows:
        ok = result.startswith(("open", "HTTP 2", "HTTP 3", "HTTP 4"))
        unsure = result.startswith(("inconclusive", "not probed", "timed out"))
        style = "green" if ok else ("yellow" if unsure else "red")
        console.print(safe_text("  ", endpoint, " ", tried, " → ", (result, style)))


def _evidence(console: Any, f: Finding) -> None:
    for e in f.evidence:
        if "\n" in e.observed:  # a log tail: one line each, indented, printed literally
            console.print(safe_text("  · ", (object_ref(e), "bold"), f" {e.field}:"))
            for line in e.observed.splitlines():
                console.print(safe_text("      │ ", line))
            continue
        console.print(
            safe_text(
                "  · ",
                (object_ref(e), "bold"),
                f" {e.field}: ",
                (e.observed, "red"),
                " (expected ",
                (e.expected, "green"),
                ")",
            )
        )


def _result_line(console: Any, r: CheckResult) -> None:
    mark, style = _MARK[r.outcome]
    worst = max(
        (f.severity for f in r.findings if f.severity is not Severity.INFO),
        key=lambda s: s.rank,
        default=None,
    )
    if worst is Severity.WARNING:
        mark, style = "!", "yellow"
    line = safe_text("  ", (mark, style), f" {r.check_id} ", r.title)
    if r.reason:
        line.append(sanitize(f"  ({r.reason})"), style="dim")
    console.print(line)


# ---- audit -------------------------------------------------------------------------------------------------
_STYLE = {
    Status.HEALTHY: "green",
    Status.DEGRADED: "yellow",
    Status.BROKEN: "bold red",
    Status.UNKNOWN: "magenta",
}


def audit(result: AuditResult, console: Any) -> None:
    """The summary, cluster-wide findings, then one line per Service that is not healthy."""
    t = safe_text

    s = summary(result)
    version = f" ({result.version})" if result.version else ""
    console.print(
        t(
            ("kubediag audit", "bold"),
            f"  {result.scope.describe()} · {s['services']} Services · {result.server}{version}",
        )
    )
    st = s["status"]
    console.print(
        t(
            "  ",
            (f"{st['healthy']} healthy", _STYLE[Status.HEALTHY]),
            " · ",
            (f"{st['degraded']} degraded", _STYLE[Status.DEGRADED]),
            " · ",
            (f"{st['broken']} broken", _STYLE[Status.BROKEN]),
            " · ",
            (f"{st['unknown']} unknown", _STYLE[Status.UNKNOWN]),
        )
    )
    if result.incomplete:
        console.print()
        console.print(t(("Incomplete audit: ", "bold magenta"), "some data could not be read"))
        for e in s["errors"]:
            skipped = ", ".join(e["checks_skipped"])
            console.print(t("  ", (f"{e['reason']}: {e['detail']}", "magenta"), f"  (skips {skipped})"))
    if s["namespaces"]:
        console.print()
        width = max(len("NAMESPACE"), *(len(sanitize(ns)) for ns in s["namespaces"]))
        console.print(t((f"{'NAMESPACE':<{width}}  HEALTHY  DEGRADED  BROKEN  UNKNOWN", "bold")))
        for ns, c in s["namespaces"].items():
            console.print(
                t(
                    f"{sanitize(ns):<{width}}  {c['healthy']:>7}  ",
                    (f"{c['degraded']:>8}", _STYLE[Status.DEGRADED] if c["degraded"] else ""),
                    "  ",
                    (f"{c['broken']:>6}", _STYLE[Status.BROKEN] if c["broken"] else ""),
                    "  ",
                    (f"{c['unknown']:>7}", _STYLE[Status.UNKNOWN] if c["unknown"] else ""),
                )
            )
    if s["root_causes"]:
        console.print()
        console.print(t(("Most frequent root causes", "bold")))
        for c in s["root_causes"][:5]:
            console.print(t(f"  {c['count']:>4}  ", c["category"]))
    if result.cluster:
        console.print()
        console.print(t(("Cluster-wide", "bold")))
        for c in result.cluster:
            if c.outcome == "passed":
                console.print(t("  ", ("✓", "green"), f" {c.id} {c.title}: ", c.message))
                continue
            if c.outcome == "skipped":
                console.print(t("  - ", f"{c.id} {c.category.value}", ("  skipped: " + c.reason, "dim")))
                continue
            style = "yellow" if c.severity is Severity.WARNING else "red"
            console.print(t("  ", ("!", style), f" {c.id} ", (c.category.value, style), ": ", c.message))
            console.print(t("    fix: ", c.remediation))
    bad = not_healthy(result)
    console.print()
    services_gap = next((u for u in result.unavailable if u.kind is Kind.SERVICE), None)
    if services_gap is not None:
        console.print(t(("Services could not be listed: ", "bold magenta"), services_gap.describe()))
    elif not result.reports:
        console.print(t(("No Service in scope.", "bold")))
    elif not bad:
        console.print(t((f"All {len(result.reports)} Services are healthy.", "bold green")))
    else:
        console.print(t((f"Services that are not healthy ({len(bad)})", "bold")))
        width = max(len(f"{r.namespace}/{r.name}") for r in bad)
        for r in bad:
            console.print(
                t(
                    "  ",
                    (f"{r.status.value.upper():<8}", _STYLE[r.status]),
                    f" {sanitize(r.namespace + '/' + r.name):<{width}}  ",
                    cause_line(r),
                )
            )
        console.print(t(("  details: kubediag svc NAME -n NAMESPACE", "dim")))
