"""Shared by every format. Object text is untrusted: control characters become visible escapes, rich Text is
built without markup. Plus the one-line summaries of a report that several formats print."""

from __future__ import annotations

import re
from typing import Any

from kubediag.engine import Report
from kubediag.model import Evidence, Kind, Outcome, Status

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: object) -> str:
    """Printable text: control characters (ESC, CSI, bidi overrides...) become visible \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def md(text: object) -> str:
    """Text for a Markdown table cell or line: sanitized, pipes escaped, backticks neutralised."""
    return sanitize(text).replace("|", "\\|").replace("`", "'")


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


def cause_line(r: Report) -> str:
    """The root cause in one line: `KD201 selector-no-match: message`, or why the status is unknown."""
    if r.status is Status.UNKNOWN:
        reasons = list(
            dict.fromkeys(
                e.describe() for e in r.errors if e.kind in (Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE)
            )
        )
        if not reasons:
            reasons = [s.reason for s in r.skipped][:1]
        return "status unknown: " + ("; ".join(reasons) or "data the diagnosis needs could not be read")
    rc = r.root_cause
    if rc is None:
        return ""
    return f"{rc.check_id} {rc.category.value}: {rc.message}"


def object_ref(e: Evidence) -> str:
    """`kind/namespace/name` of a piece of evidence."""
    return f"{e.kind}/{e.namespace + '/' if e.namespace else ''}{e.name}"


def ports_line(svc: dict[str, Any]) -> str:
    """A Service summary's ports: `http 80→8080/TCP (nodePort 30080), ...`."""
    parts = []
    for p in svc.get("ports") or []:
        name = f"{p['name']} " if p.get("name") else ""
        node = f" (nodePort {p['node_port']})" if p.get("node_port") else ""
        parts.append(f"{name}{p.get('port')}→{p.get('target_port')}/{p.get('protocol')}{node}")
    return ", ".join(parts) or "none"


FOLLOWS = "follows from the root cause"
NOT_APPLICABLE = "not applicable"
NO_SERVICE = "the Service does not exist"


def skip_groups(r: Report) -> list[tuple[str, int]]:
    """The skipped checks grouped by why, largest group first: `follow(s) from the root cause KD201`,
    `not applicable`, `need(s) the Service, which does not exist`, and each data gap with its own reason
    (a forbidden list names its permission). The phrase agrees with the count."""
    groups: dict[tuple[str, str], int] = {}
    for res in r.skipped:
        reason = res.reason
        if reason.startswith(FOLLOWS):
            key = ("follow", "from the root cause" + (f" {r.root_cause.check_id}" if r.root_cause else ""))
        elif reason.startswith(NOT_APPLICABLE):
            key = ("", NOT_APPLICABLE)
        elif reason == NO_SERVICE:
            key = ("need", "the Service, which does not exist")
        else:
            key = ("lack", f"data ({reason})" if reason else "data")
        groups[key] = groups.get(key, 0) + 1
    out = [
        (f"{verb}{'s' if n == 1 and verb else ''} {rest}".strip(), n) for (verb, rest), n in groups.items()
    ]
    return sorted(out, key=lambda kv: (-kv[1], kv[0]))


def checks_line(r: Report) -> str:
    """The chain in one line: `28 checks: 1 failed, 5 passed, 22 skipped (17 follow from the root cause
    KD201, 5 not applicable)`."""
    counts = {o: sum(1 for res in r.results if res.outcome is o) for o in Outcome}
    parts = [f"{counts[o]} {o.value}" for o in (Outcome.FAILED, Outcome.PASSED, Outcome.SKIPPED) if counts[o]]
    line = f"{len(r.results)} checks: " + ", ".join(parts)
    groups = skip_groups(r)
    if groups:
        line += " (" + ", ".join(f"{n} {why}" for why, n in groups) + ")"
    return line


def probe_lines(report: Report) -> tuple[str, list[tuple[str, str, str]]]:
    """The data plane (--probe): (headline, [(endpoint, tried, result)]), shared by text and Markdown."""
    from kubediag.render.json import probe_dict

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
        role = {"service": f"Service port {r['service_port']}", "declared": "declared port"}.get(
            r["role"], "other port"
        )
        if r["outcome"] == "http":  # the status line as it came back
            result = str(r["detail"] or f"HTTP {r['http_status']}")
        else:
            result = r["outcome"] + (f": {r['detail']}" if r["detail"] else "")
        rows.append((f"pod/{r['pod']}", f"{r['tried']} ({role})", result))
    return head, rows
