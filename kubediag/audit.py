"""`kubediag audit`: every Service in a scope through the same chain as `svc`, a summary, cluster-wide findings.

Pure: the gatherer (`gather.gather_scope`) reads the scope in bulk into one `ClusterData`, whose indexes make
the run O(services + pods); this module diagnoses each Service with `engine.diagnose`, adds the cluster-wide
findings every Services guide warns about, and renders text, JSON, JSON Lines, Markdown and JUnit XML.
Each Service's entry in the JSON is exactly the `svc` report (`report.report_dict`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.checks.base import ordered_checks
from kubediag.engine import Report, diagnose
from kubediag.model import ExitCode, Kind, Severity, Status, Unavailable
from kubediag.report import report_dict, safe_text, sanitize
from kubediag.snapshot import ClusterData, Snapshot, name_of, ns_of
from kubediag.workloads import node_addresses

SCHEMA_VERSION = "1"
STATUSES: tuple[Status, ...] = (Status.HEALTHY, Status.DEGRADED, Status.BROKEN, Status.UNKNOWN)
# Worst first, for listing the Services that are not healthy.
_STATUS_ORDER = {Status.BROKEN: 0, Status.UNKNOWN: 1, Status.DEGRADED: 2, Status.HEALTHY: 3}
LB_SPRAWL_THRESHOLD = 2  # from this many LoadBalancer Services on, suggest one Ingress/Gateway


# ---- scope ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """What `audit` covers: every namespace (`namespaces=None`) or some, minus exclusions, Services by label."""

    namespaces: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()
    label_selector: str | None = None

    def includes(self, namespace: str) -> bool:
        if namespace in self.exclude:
            return False
        return self.namespaces is None or namespace in self.namespaces

    def as_dict(self) -> dict[str, Any]:
        return {
            "all_namespaces": self.namespaces is None,
            "namespaces": list(self.namespaces or ()),
            "excluded_namespaces": sorted(self.exclude),
            "label_selector": self.label_selector,
        }

    def describe(self) -> str:
        where = (
            "all namespaces"
            if self.namespaces is None
            else "namespace" + ("s " if len(self.namespaces) > 1 else " ") + ", ".join(self.namespaces)
        )
        if self.exclude:
            where += " except " + ", ".join(sorted(self.exclude))
        if self.label_selector:
            where += f", Services with labels {self.label_selector}"
        return where


_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}"
_VALUE = rf"({_NAME})?"
_REQUIREMENT = re.compile(
    rf"\s*(?:!\s*{_KEY}"
    rf"|{_KEY}\s*(?:(?:==|!=|=)\s*{_VALUE}|\s(?:in|notin)\s*\(\s*{_VALUE}(\s*,\s*{_VALUE})*\s*\)|[<>]\s*-?\d+)?)\s*"
)


def label_selector_error(selector: str) -> str | None:
    """Why `selector` is not a valid label selector (kubectl syntax), or None. Checked before any request."""
    if not selector.strip():
        return "the label selector is empty"
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        if not _REQUIREMENT.fullmatch(part):
            return f"invalid label selector {selector!r}: cannot parse {part.strip()!r}"
    return None


# ---- cluster-wide findings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterCheck:
    """A cluster-wide finding (outcome failed), or a cluster check that passed or could not run."""

    id: str
    category: str
    title: str
    outcome: str  # passed | failed | skipped
    severity: Severity | None = None
    message: str = ""
    remediation: str = ""
    objects: tuple[str, ...] = ()
    reason: str = ""  # why skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "outcome": self.outcome,
            "severity": self.severity.value if self.severity else None,
            "message": self.message,
            "remediation": self.remediation,
            "objects": list(self.objects),
            **({"reason": self.reason} if self.reason else {}),
        }


def _key(obj: Mapping[str, Any]) -> str:
    return f"{ns_of(obj)}/{name_of(obj)}"


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _listing(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def cluster_checks(data: ClusterData, services: Sequence[Mapping[str, Any]]) -> list[ClusterCheck]:
    """The mistakes every Services guide warns about, over the Services in scope. O(services + nodes)."""
    out: list[ClusterCheck] = []

    # KDA01: one cloud load balancer per LoadBalancer Service.
    lbs = [_key(s) for s in services if _spec(s).get("type") == "LoadBalancer"]
    title = "LoadBalancer Services share an Ingress or Gateway"
    if len(lbs) >= LB_SPRAWL_THRESHOLD:
        out.append(
            ClusterCheck(
                "KDA01",
                "loadbalancer-per-service",
                title,
                "failed",
                Severity.WARNING,
                f"{len(lbs)} LoadBalancer Services in scope ({_listing(lbs)}): each provisions its own external "
                "load balancer and public address, billed and firewalled separately",
                "Put one Ingress controller or Gateway (itself the only LoadBalancer Service) in front of "
                "ClusterIP Services and route by host/path: kubectl -n NS patch service NAME --type=merge "
                '-p \'{"spec":{"type":"ClusterIP"}}\' once its route exists',
                tuple(lbs),
            )
        )
    else:
        out.append(
            ClusterCheck(
                "KDA01",
                "loadbalancer-per-service",
                title,
                "passed",
                message=f"{len(lbs)} LoadBalancer Service(s) in scope" + (f": {lbs[0]}" if lbs else ""),
                objects=tuple(lbs),
            )
        )

    # KDA02: NodePort Services answer on every node address, external ones included.
    nodeports = [
        s
        for s in services
        if _spec(s).get("type") == "NodePort"
        and any(isinstance(p, Mapping) and p.get("nodePort") for p in _spec(s).get("ports") or [])
    ]
    title = "NodePort Services are not exposed on nodes with external addresses"
    missing = data.missing(Kind.NODE)
    if not nodeports:
        out.append(
            ClusterCheck("KDA02", "nodeport-external-nodes", title, "passed", message="no NodePort Service")
        )
    elif missing is not None:
        out.append(
            ClusterCheck(
                "KDA02",
                "nodeport-external-nodes",
                title,
                "skipped",
                message=f"{len(nodeports)} NodePort Service(s); the nodes' addresses could not be read",
                objects=tuple(_key(s) for s in nodeports),
                reason=missing.describe(),
            )
        )
    else:
        public = [(name_of(n), ips) for n in data.nodes if (ips := node_addresses(n, "ExternalIP"))]
        public.sort()
        if not public:
            out.append(
                ClusterCheck(
                    "KDA02",
                    "nodeport-external-nodes",
                    title,
                    "passed",
                    message=f"{len(nodeports)} NodePort Service(s); no node has an ExternalIP address",
                    objects=tuple(_key(s) for s in nodeports),
                )
            )
        else:
            keys = [_key(s) for s in nodeports]
            first = next(
                p["nodePort"]
                for p in _spec(nodeports[0]).get("ports") or []
                if isinstance(p, Mapping) and p.get("nodePort")
            )
            nodes_text = _listing([f"{n} {ips[0]}" for n, ips in public], 5)
            out.append(
                ClusterCheck(
                    "KDA02",
                    "nodeport-external-nodes",
                    title,
                    "failed",
                    Severity.WARNING,
                    f"{len(nodeports)} NodePort Service(s) ({_listing(keys)}) open their node ports on every "
                    f"node, and {len(public)} node(s) have external addresses ({nodes_text}): e.g. "
                    f"{public[0][1][0]}:{first} answers from outside unless a firewall blocks 30000-32767",
                    "Make internal Services ClusterIP behind one Ingress/Gateway, or restrict node ports "
                    "(cloud firewall, kube-proxy --nodeport-addresses); see KD803 in each Service's report",
                    (*keys, *(f"node/{n}" for n, _ in public)),
                )
            )

    # KDA03: Services that expose nothing.
    portless = [
        _key(s)
        for s in services
        if _spec(s).get("type") != "ExternalName"
        and not [p for p in _spec(s).get("ports") or [] if isinstance(p, Mapping)]
    ]
    title = "Every Service exposes at least one port"
    if portless:
        out.append(
            ClusterCheck(
                "KDA03",
                "service-no-ports",
                title,
                "failed",
                Severity.WARNING,
                f"{len(portless)} Service(s) declare no port ({_listing(portless)}): no virtual IP load "
                "balancing, EndpointSlices without ports, nothing for an Ingress or SRV lookup to use",
                "Declare the ports the pods serve (spec.ports[].port/targetPort/name), or delete the Service "
                "if only its DNS name was wanted",
                tuple(portless),
            )
        )
    else:
        out.append(
            ClusterCheck("KDA03", "service-no-ports", title, "passed", message="every Service has ports")
        )
    return out


# ---- cluster-wide: Gateway API route backends (KDA07, KDA08) ------------------------------------------------
def route_cluster_checks(data: ClusterData, scope: Scope) -> list[ClusterCheck]:
    """Routes whose backendRefs name a Service that does not exist (KDA07) or a port it does not have
    (KDA08), over every route kind read. Kept apart from `cluster_checks` so it can move with them."""
    from kubediag.checks.routes import route_backend_gaps
    from kubediag.kinds import ROUTE_KINDS

    titles = {
        "KDA07": ("route-backend-service-missing", "Route backendRefs name Services that exist"),
        "KDA08": ("route-backend-port-missing", "Route backendRefs name ports their Service has"),
    }

    def skipped(reason: str, message: str = "") -> list[ClusterCheck]:
        return [ClusterCheck(i, c, t, "skipped", message=message, reason=reason) for i, (c, t) in titles.items()]

    served = [k for k in ROUTE_KINDS if k not in data.unserved]
    if not served:
        return [
            ClusterCheck(i, c, t, "passed", message="the cluster does not serve Gateway API routes")
            for i, (c, t) in titles.items()
        ]
    gaps = [m for k in served if (m := data.missing(k)) is not None]
    if len(gaps) == len(served):
        return skipped("; ".join(m.describe() for m in gaps), "no route kind could be read")
    if scope.label_selector:
        return skipped(f"Services were filtered by the label selector {scope.label_selector}: absence is unknown")
    judged = None if scope.namespaces is None else scope.namespaces
    found = [g for g in route_backend_gaps(data, judged) if scope.includes(g.backend.route_ns)]
    partial = f" ({'; '.join(m.describe() for m in gaps)})" if gaps else ""
    out: list[ClusterCheck] = []
    for cid, problem, fix in (
        (
            "KDA07",
            "missing-service",
            "Create the Service, or fix the backendRef's name/namespace: "
            "kubectl -n NS patch httproute NAME --type=json -p "
            '\'[{"op":"replace","path":"/spec/rules/R/backendRefs/B/name","value":"SERVICE"}]\'',
        ),
        (
            "KDA08",
            "missing-port",
            "Name a port the Service has (the Service port, not the targetPort); see KD804 in the Service's report",
        ),
    ):
        cat, title = titles[cid]
        hits = [g for g in found if g.problem == problem]
        keys = [f"{g.backend.route_kind}/{g.backend.route_ns}/{g.backend.route_name}" for g in hits]
        if hits:
            what = "a Service that does not exist" if problem == "missing-service" else "a port their Service lacks"
            out.append(
                ClusterCheck(
                    cid,
                    cat,
                    title,
                    "failed",
                    Severity.WARNING if problem == "missing-service" else Severity.CRITICAL,
                    f"{len(hits)} route backendRef(s) name {what}: {_listing([g.text for g in hits], 5)}; the "
                    "gateway answers 500 for the requests those backends would get" + partial,
                    fix,
                    tuple(dict.fromkeys(keys)),
                )
            )
        else:
            out.append(ClusterCheck(cid, cat, title, "passed", message="every route backendRef resolves" + partial))
    return out


# ---- the run ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditResult:
    scope: Scope
    reports: tuple[Report, ...]
    cluster: tuple[ClusterCheck, ...]
    unavailable: tuple[Unavailable, ...]
    server: str = ""
    version: str = ""
    generated_at: str = ""

    @property
    def incomplete(self) -> bool:
        return bool(self.unavailable)


def services_in_scope(data: ClusterData, scope: Scope) -> list[Mapping[str, Any]]:
    """The Services to diagnose, sorted by namespace and name."""
    return sorted(
        (s for s in data.services if scope.includes(ns_of(s))), key=lambda s: (ns_of(s), name_of(s))
    )


def run(
    data: ClusterData,
    scope: Scope,
    *,
    server: str = "",
    version: str = "",
    generated_at: str = "",
    on_service: Callable[[], None] | None = None,
) -> AuditResult:
    """Diagnose every Service in scope with the `svc` chain. Pure; O(services + pods) given the indexes."""
    services = services_in_scope(data, scope)
    chain = ordered_checks()
    reports: list[Report] = []
    for svc in services:
        reports.append(diagnose(Snapshot(ns_of(svc), name_of(svc), data), chain))
        if on_service is not None:
            on_service()
    return AuditResult(
        scope=scope,
        reports=tuple(reports),
        cluster=tuple(cluster_checks(data, services)) + tuple(route_cluster_checks(data, scope)),
        unavailable=tuple(data.unavailable[k] for k in sorted(data.unavailable)),
        server=server or data.server,
        version=version,
        generated_at=generated_at,
    )


def exit_code(result: AuditResult, fail_on: Severity = Severity.CRITICAL) -> ExitCode:
    """As for `svc`, on the worst Service: 4 if any status is unknown, else 1 on a finding at or above
    `fail_on`, else 0. No Service could be listed at all (Services, pods or EndpointSlices unreadable): 4."""
    if any(u.kind is Kind.SERVICE for u in result.unavailable):
        return ExitCode.UNKNOWN
    code = ExitCode.OK
    for r in result.reports:
        if r.status is Status.UNKNOWN:
            return ExitCode.UNKNOWN
        if r.worst is not None and r.worst.rank >= fail_on.rank:
            code = ExitCode.FINDINGS
    return code


def _skipped_by(kind: Kind) -> list[str]:
    return [c.id for c in ordered_checks() if kind in c.needs]


def summary(result: AuditResult) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    per_ns: dict[str, Counter[str]] = {}
    causes: Counter[str] = Counter()
    for r in result.reports:
        by_status[r.status.value] += 1
        per_ns.setdefault(r.namespace, Counter())[r.status.value] += 1
        if r.root_cause is not None and r.status is not Status.HEALTHY:
            causes[r.root_cause.category.value] += 1
    worst = min((r.status for r in result.reports), key=_STATUS_ORDER.__getitem__, default=None)
    return {
        "services": len(result.reports),
        "status": {s.value: by_status[s.value] for s in STATUSES},
        "worst": worst.value if worst else None,
        "namespaces": {ns: {s.value: c[s.value] for s in STATUSES} for ns, c in sorted(per_ns.items())},
        "root_causes": [
            {"category": cat, "count": n} for cat, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "cluster_findings": [c.as_dict() for c in result.cluster],
        "incomplete": result.incomplete,
        "missing_permissions": [u.detail for u in result.unavailable if u.reason == "forbidden"],
        "errors": [
            {
                "kind": u.kind.value,
                "reason": u.reason,
                "detail": u.detail,
                "checks_skipped": _skipped_by(u.kind),
            }
            for u in result.unavailable
        ],
    }


# ---- JSON / JSON Lines -----------------------------------------------------------------------------------
def audit_dict(result: AuditResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": result.generated_at,
        "cluster": {"server": result.server, "version": result.version},
        "scope": result.scope.as_dict(),
        "summary": summary(result),
        "services": [report_dict(r) for r in result.reports],
    }


def to_json(result: AuditResult) -> str:
    return json.dumps(audit_dict(result), indent=2)


def iter_jsonl(result: AuditResult) -> Iterator[str]:
    """One Service report per line, exactly the `svc` JSON (compact), for log pipelines."""
    for r in result.reports:
        yield json.dumps(report_dict(r), separators=(",", ":"))


# ---- one line per Service that is not healthy ------------------------------------------------------------
def not_healthy(result: AuditResult) -> list[Report]:
    return sorted(
        (r for r in result.reports if r.status is not Status.HEALTHY),
        key=lambda r: (_STATUS_ORDER[r.status], r.namespace, r.name),
    )


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


# ---- Markdown --------------------------------------------------------------------------------------------
def _md(text: object) -> str:
    return sanitize(text).replace("|", "\\|").replace("`", "'")


def to_markdown(result: AuditResult) -> str:
    s = summary(result)
    st = s["status"]
    lines = [
        f"## kubediag audit: {s['services']} Services ({_md(result.scope.describe())})",
        "",
        f"Cluster {_md(result.server)} {_md(result.version)} · generated {result.generated_at}",
        "",
        f"**{st['healthy']} healthy · {st['degraded']} degraded · {st['broken']} broken · "
        f"{st['unknown']} unknown**",
    ]
    if result.incomplete:
        lines += ["", "**Incomplete audit**: " + "; ".join(_md(u.describe()) for u in result.unavailable)]
    if s["namespaces"]:
        lines += ["", "| namespace | healthy | degraded | broken | unknown |", "|---|---|---|---|---|"]
        lines += [
            f"| {_md(ns)} | {c['healthy']} | {c['degraded']} | {c['broken']} | {c['unknown']} |"
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
                lines.append(f"- {c.id} `{c.category}` skipped: {_md(c.reason)}")
            else:
                sev = c.severity.value if c.severity else ""
                lines.append(f"- {c.id} `{c.category}` ({sev}): {_md(c.message)}. Fix: {_md(c.remediation)}")
    bad = not_healthy(result)
    if bad:
        lines += ["", "| status | service | root cause |", "|---|---|---|"]
        lines += [
            f"| {r.status.value} | {_md(r.namespace)}/{_md(r.name)} | {_md(cause_line(r))} |" for r in bad
        ]
    return "\n".join(lines) + "\n"


# ---- JUnit XML -------------------------------------------------------------------------------------------
def to_junit(result: AuditResult, fail_on: Severity = Severity.CRITICAL) -> str:
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


# ---- text (rich) -----------------------------------------------------------------------------------------
_STYLE = {
    Status.HEALTHY: "green",
    Status.DEGRADED: "yellow",
    Status.BROKEN: "bold red",
    Status.UNKNOWN: "magenta",
}


def render_text(result: AuditResult, console: Any) -> None:
    """The summary, cluster-wide findings, then one line per Service that is not healthy. Object text is
    printed literally (rich Text, never markup) with control characters escaped."""
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
                console.print(t("  - ", f"{c.id} {c.category}", ("  skipped: " + c.reason, "dim")))
                continue
            style = "yellow" if c.severity is Severity.WARNING else "red"
            console.print(t("  ", ("!", style), f" {c.id} ", (c.category, style), ": ", c.message))
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


def write_lines(lines: Iterable[str], write: Callable[[str], Any]) -> None:
    for line in lines:
        write(line + "\n")


# ---- progress on stderr ----------------------------------------------------------------------------------
class Progress:
    """A progress bar on stderr while gathering and diagnosing, only when stderr is a terminal.

    Used as a context manager; `on_page(kind, n)` is called from the gatherer's threads, `on_service()`
    after each diagnosis. When stderr is not a TTY every method is a no-op and nothing is written.
    """

    def __init__(self, stream: Any, enabled: bool | None = None) -> None:
        self.enabled = bool(stream.isatty()) if enabled is None else enabled
        self._stream = stream
        self._bar: Any = None
        self._gather: Any = None
        self._diagnose: Any = None
        self._counts: Counter[str] = Counter()
        import threading

        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            console = Console(file=self._stream, highlight=False, markup=False, emoji=False)
            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._bar.start()
            self._gather = self._bar.add_task("Listing the scope", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_page(self, kind: Kind, n: int) -> None:
        if self._bar is None:
            return
        with self._lock:
            self._counts[kind.value] += n
            text = " · ".join(f"{k} {v}" for k, v in sorted(self._counts.items()) if v)
        self._bar.update(self._gather, advance=n, description=f"Listing: {text}")

    def start_diagnosis(self, total: int) -> None:
        if self._bar is None:
            return
        self._bar.update(self._gather, total=self._bar.tasks[0].completed, visible=False)
        self._diagnose = self._bar.add_task("Diagnosing Services", total=total)

    def on_service(self) -> None:
        if self._bar is not None and self._diagnose is not None:
            self._bar.advance(self._diagnose)
