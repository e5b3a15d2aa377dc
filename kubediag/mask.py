"""--mask: replace label values, IP addresses and host names in a report with stable placeholders.

Deterministic: the same value gets the same placeholder within one report, so the report still reads.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from kubediag.engine import Report
from kubediag.labels import labels_of
from kubediag.model import CheckResult, Evidence, Finding, Kind
from kubediag.objects import KubeObject
from kubediag.snapshot import ClusterData

# IPv4 (also before ":port" or a full stop) and IPv6 (also bracketed), optionally with a prefix length.
# Candidates are confirmed with `ipaddress` before they are replaced.
_IP = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?!\w|\.\d)"
    r"|(?<![\w.:])[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:/\d{1,3})?(?![\w:]|\.\w)"
)


def _label_values(node: Any) -> Iterable[str]:
    """Label values in an object: its labels, and the values its selectors name (a Service's selector, a
    LabelSelector's matchLabels and matchExpressions values, a pod's nodeSelector): a typo'd selector value
    is as telling as a label."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("labels", "matchLabels", "nodeSelector") and isinstance(value, Mapping):
                yield from (str(v) for v in value.values())
            elif key == "selector" and isinstance(value, Mapping) and all(
                isinstance(v, str) for v in value.values()
            ):
                yield from value.values()  # a Service's map selector
            elif key == "matchExpressions" and isinstance(value, list | tuple):
                for expr in value:
                    if isinstance(expr, Mapping):
                        yield from (str(v) for v in expr.get("values") or [])
            else:
                yield from _label_values(value)
    elif isinstance(node, list | tuple):  # msgspec.to_builtins keeps the Structs' tuples
        for item in node:
            yield from _label_values(item)


@dataclass
class Masker:
    secrets: dict[str, str] = field(default_factory=dict)  # value -> placeholder
    counters: dict[str, int] = field(default_factory=dict)

    def _token(self, value: str, kind: str) -> str:
        if value not in self.secrets:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            self.secrets[value] = f"<{kind}-{self.counters[kind]}>"
        return self.secrets[value]

    @classmethod
    def from_data(cls, data: ClusterData) -> Masker:
        m = cls()
        objs: Iterable[KubeObject] = (
            *data.pods,
            *data.services,
            *data.nodes,
            *(o for kind in (Kind.DEPLOYMENT, Kind.REPLICASET, Kind.STATEFULSET, Kind.DAEMONSET) for o in data.of(kind)),
            *data.namespaces,
            *data.networkpolicies,
        )
        values: set[str] = set()
        for o in objs:
            values.update(str(v) for v in labels_of(o).values() if len(str(v)) >= 2)
            values.update(v for v in _label_values(msgspec.to_builtins(o)) if len(v) >= 2)
        for v in sorted(values, key=lambda s: (-len(s), s)):
            m._token(v, "label")
        for n in data.nodes:
            for a in n.status.addresses:
                if a.type in ("Hostname", "InternalDNS", "ExternalDNS"):
                    m._token(a.address, "host")
            m._token(n.metadata.name, "host")
        return m

    def text(self, s: str) -> str:
        def ip(match: re.Match[str]) -> str:
            raw = match.group()
            try:
                ipaddress.ip_network(raw, strict=False)
            except ValueError:
                return raw
            return self._token(raw, "ip")

        s = _IP.sub(ip, s)
        for value in sorted(self.secrets, key=len, reverse=True):
            if not self.secrets[value].startswith("<ip-") and value:
                s = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", self.secrets[value], s)
        return s

    def finding(self, f: Finding) -> Finding:
        return replace(
            f,
            message=self.text(f.message),
            remediation=self.text(f.remediation),
            evidence=tuple(
                Evidence(
                    e.kind,
                    e.namespace,
                    self.text(e.name),
                    e.field,
                    self.text(e.observed),
                    self.text(e.expected),
                )
                for e in f.evidence
            ),
        )

    def report(self, r: Report) -> Report:
        results = tuple(
            replace(
                res,
                findings=tuple(self.finding(f) for f in res.findings),
                reason=self.text(res.reason),
                notes=tuple(self.text(n) for n in res.notes),
            )
            for res in r.results
        )
        svc = None
        if r.service is not None:
            svc = dict(r.service)
            if svc.get("cluster_ip"):
                svc["cluster_ip"] = self.text(str(svc["cluster_ip"]))
            svc["selector"] = {k: self.text(str(v)) for k, v in (svc.get("selector") or {}).items()}
        root = self.finding(r.root_cause) if r.root_cause else None
        errors = tuple(replace(e, detail=self.text(e.detail)) for e in r.errors)
        probe = r.probe
        if probe is not None:  # --probe results: node names and addresses in transport errors
            probe = replace(
                probe,
                reason=self.text(probe.reason),
                results=tuple(
                    replace(x, detail=self.text(x.detail), target=replace(x.target, node=self.text(x.target.node)))
                    for x in probe.results
                ),
            )
        return replace(r, service=svc, results=results, root_cause=root, errors=errors, probe=probe)


__all__ = ["CheckResult", "Masker"]
