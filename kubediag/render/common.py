"""Shared by every format. Object text is untrusted: control characters become visible escapes, rich Text is
built without markup. Plus the one-line summaries of a report that several formats print."""

from __future__ import annotations

import re
from typing import Any

from kubediag.engine import Report
from kubediag.model import Evidence, Kind, Status

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
