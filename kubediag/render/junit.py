"""JUnit XML of an audit, for CI test reports."""

from __future__ import annotations

from collections import Counter

from kubediag.audit import AuditResult
from kubediag.engine import Report
from kubediag.model import Severity, Status
from kubediag.render.common import cause_line, sanitize


def audit(result: AuditResult, fail_on: Severity = Severity.CRITICAL) -> str:
    """One testsuite per namespace, one testcase per Service: a failure for a finding at or above `fail_on`
    (as the exit code), an error for status unknown; other findings go to system-out."""
    import xml.etree.ElementTree as ET

    def x(text: object) -> str:  # XML 1.0 has no place for control characters: show them escaped
        return sanitize(text)

    by_ns: dict[str, list[Report]] = {}
    for r in result.reports:
        by_ns.setdefault(r.namespace, []).append(r)
    root = ET.Element("testsuites", name="kubediag audit")
    totals = Counter[str]()
    for ns, reports in sorted(by_ns.items()):
        suite = ET.SubElement(root, "testsuite", name=x(ns))
        counts = Counter[str]()
        for r in reports:
            case = ET.SubElement(suite, "testcase", classname=x(f"kubediag.{ns}"), name=x(r.name))
            counts["tests"] += 1
            rc = r.root_cause
            if r.status is Status.UNKNOWN:
                counts["errors"] += 1
                err = ET.SubElement(case, "error", message=x(cause_line(r)), type="unknown")
                err.text = x("\n".join(e.describe() for e in r.errors) or cause_line(r))
            elif r.worst is not None and r.worst.rank >= fail_on.rank and rc is not None:
                counts["failures"] += 1
                fail = ET.SubElement(case, "failure", message=x(cause_line(r)), type=rc.category.value)
                fail.text = x(_finding_text(r))
            if (
                r.findings
                and r.status is not Status.UNKNOWN
                and not (r.worst is not None and r.worst.rank >= fail_on.rank)
            ):
                out = ET.SubElement(case, "system-out")
                out.text = x(f"status: {r.status.value}\n" + _finding_text(r))
        for key in ("tests", "failures", "errors"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
        suite.set("skipped", "0")
        if result.generated_at:
            suite.set("timestamp", result.generated_at)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _finding_text(r: Report) -> str:
    lines = []
    for f in r.findings:
        if f.severity is Severity.INFO:
            continue
        lines.append(f"{f.check_id} {f.category.value} ({f.severity.value}): {f.message}")
        lines.append("Fix:")
        lines += [f"    {line}" for line in f.remediation.splitlines()]
    return "\n".join(lines)
