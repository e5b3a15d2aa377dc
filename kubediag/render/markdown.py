"""Markdown for tickets and pull-request comments: the `svc` report and the `audit` summary."""

from __future__ import annotations

from kubediag.audit import AuditResult, not_healthy, summary
from kubediag.engine import Report
from kubediag.model import Severity
from kubediag.render.common import cause_line, checks_line, md, object_ref, ports_line, probe_lines, sanitize
from kubediag.render.json import report_dict


# ---- svc ---------------------------------------------------------------------------------------------------
def report(r: Report, verbose: bool = False) -> str:
    """The `svc` report for a ticket: header, root cause (evidence table, fix), the other findings, one line
    counting the checks; `verbose` adds the table of every check."""
    d = report_dict(r)
    svc = d["service"]
    lines = [f"### kubediag: Service `{md(svc['namespace'])}/{md(svc['name'])}` is **{d['status']}**", ""]
    lines.append(
        f"- DNS: `{svc['dns']}` · type {svc.get('type') or '-'} · ClusterIP {svc.get('cluster_ip') or '-'}"
        f" · ports {md(ports_line(svc))}"
    )
    rc = r.root_cause
    if rc:
        lines += [
            "",
            f"**Root cause** ({rc.check_id} `{rc.category.value}`, {rc.severity.value}): {md(rc.message)}",
            "",
            "| object | field | observed | expected |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {md(object_ref(e))} | {md(e.field)} | {md(e.observed).replace(chr(10), '<br>')} | {md(e.expected)} |"
            for e in rc.evidence
        ]
        lines += ["", "**Fix**", "", "```", sanitize(rc.remediation), "```"]
    if verbose:
        lines += ["", "| check | result |", "|---|---|"]
        for res in r.results:
            mark = {"passed": "✅ passed", "failed": "❌ failed", "skipped": "⏭ skipped"}[res.outcome.value]
            extra = f": {md(res.reason)}" if res.reason else ""
            lines.append(f"| {res.check_id} {md(res.title)} | {mark}{extra} |")
    others = [f for f in r.findings if f is not rc and f.severity is not Severity.INFO]
    if others:
        lines += ["", "**Also found**", ""]
        lines += [f"- {f.check_id} `{f.category.value}` ({f.severity.value}): {md(f.message)}" for f in others]
    notes = [f for f in r.findings if f.severity is Severity.INFO]
    if notes:
        lines += ["", "**Notes**", ""] + [f"- {f.check_id}: {md(f.message)}" for f in notes]
    lines += probe_markdown(r)
    if r.errors:
        lines += ["", "**Incomplete**: " + "; ".join(md(e.describe()) for e in r.errors)]
    if not verbose:
        lines += ["", f"_{md(checks_line(r))}_"]
    return "\n".join(lines) + "\n"


def probe_markdown(report: Report) -> list[str]:
    head, rows = probe_lines(report)
    lines = ["", f"**Data plane**: {md(head)}"]
    if rows:
        lines += ["", "| endpoint | tried | result |", "|---|---|---|"]
        lines += [f"| {md(e)} | {md(tr)} | {md(res)} |" for e, tr, res in rows]
    return lines


# ---- audit -------------------------------------------------------------------------------------------------
def audit(result: AuditResult) -> str:
    s = summary(result)
    st = s["status"]
    lines = [
        f"## kubediag audit: {s['services']} Services ({md(result.scope.describe())})",
        "",
        f"Cluster {md(result.server)} {md(result.version)} · generated {result.generated_at}",
        "",
        f"**{st['healthy']} healthy · {st['degraded']} degraded · {st['broken']} broken · "
        f"{st['unknown']} unknown**",
    ]
    if result.incomplete:
        lines += ["", "**Incomplete audit**: " + "; ".join(md(u.describe()) for u in result.unavailable)]
    if s["namespaces"]:
        lines += ["", "| namespace | healthy | degraded | broken | unknown |", "|---|---|---|---|---|"]
        lines += [
            f"| {md(ns)} | {c['healthy']} | {c['degraded']} | {c['broken']} | {c['unknown']} |"
            for ns, c in s["namespaces"].items()
        ]
    if s["root_causes"]:
        lines += ["", "**Most frequent root causes**", ""]
        lines += [f"- `{c['category']}`: {c['count']}" for c in s["root_causes"][:10]]
    failed = [c for c in result.cluster if c.outcome != "passed"]
    if failed:
        lines += ["", "**Cluster-wide**", ""]
        for c in failed:
            if c.outcome == "skipped":
                lines.append(f"- {c.id} `{c.category.value}` skipped: {md(c.reason)}")
            else:
                sev = c.severity.value if c.severity else ""
                lines.append(
                    f"- {c.id} `{c.category.value}` ({sev}): {md(c.message)}. Fix: {md(c.remediation)}"
                )
    bad = not_healthy(result)
    if bad:
        lines += ["", "| status | service | root cause |", "|---|---|---|"]
        lines += [f"| {r.status.value} | {md(r.namespace)}/{md(r.name)} | {md(cause_line(r))} |" for r in bad]
    return "\n".join(lines) + "\n"
