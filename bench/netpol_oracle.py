"""kubediag's NetworkPolicy procedure against the Kubernetes NetworkPolicy e2e truth tables, as a plain list of
policies and as the indexed PolicySet (the diagnosis stage's path): both must agree with every expectation.

  python bench/netpol_oracle.py [/work/shared/netpol-oracle/k8s_e2e_cases.yaml]

The cases file (transcribed from kubernetes/kubernetes test/e2e/network/netpol; not part of this repository)
describes its model in its header: namespaces x, y, z labelled ns=<name>; pod <ns>/<p> labelled pod=<p> with
one container port per (port, protocol) named serve-<port>-<protocol>; expectations start from "everything
connects" and are edited in order; loopback is ignored. Exit 1 on any disagreement.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Any

import yaml

from kubediag.kinds import from_builtin
from kubediag.model import Kind
from kubediag.netpol import Peer, PolicySet, connection_allowed
from kubediag.objects import NetworkPolicy

DEFAULT = Path("/work/shared/netpol-oracle/k8s_e2e_cases.yaml")
NAMESPACES = ("x", "y", "z")


def _ip(key: str, pods: list[str]) -> str:
    ns, _ = key.split("/")
    return f"10.{100 + NAMESPACES.index(ns)}.0.{10 + pods.index(key)}"


def _subst(value: Any, pods: list[str]) -> Any:
    """{ip x/b} and {cidr4 x/b} placeholders in policy specs."""
    if isinstance(value, dict):
        return {k: _subst(v, pods) for k, v in value.items()}
    if isinstance(value, list):
        return [_subst(v, pods) for v in value]
    if isinstance(value, str) and "{" in value:
        out = value
        for key in pods:
            ip = _ip(key, pods)
            out = out.replace(f"{{ip {key}}}", ip)
            out = out.replace(f"{{cidr4 {key}}}", str(ipaddress.ip_network(f"{ip}/4", strict=False)))
        return out
    return value


def _matches(sel: dict[str, Any], key: str) -> bool:
    ns, pod = key.split("/")
    return ("ns" not in sel or sel["ns"] == ns) and ("pod" not in sel or sel["pod"] == pod)


def run_case(case: dict[str, Any], indexed: bool) -> list[str]:
    pods: list[str] = list(case["pods"])
    ports = [(p, proto) for p in case["ports"] for proto in case["protocols"]]
    pod_labels = {k: {"pod": k.split("/")[1]} for k in pods}
    ns_labels = {ns: {"ns": ns, "kubernetes.io/metadata.name": ns} for ns in NAMESPACES}
    policies: dict[tuple[str, str], NetworkPolicy] = {}
    errors: list[str] = []
    for i, step in enumerate(case["steps"]):
        if step.get("delete_all"):
            policies.clear()
        for pol in step.get("create") or []:
            policies[(pol["ns"], pol["name"])] = from_builtin(
                Kind.NETWORKPOLICY,
                {
                    "metadata": {"namespace": pol["ns"], "name": pol["name"]},
                    "spec": _subst(pol["spec"], pods),
                },
            )
        for key, labels in (step.get("pod_labels") or {}).items():
            pod_labels[key].update(labels)
        for ns, labels in (step.get("namespace_labels") or {}).items():
            ns_labels[ns].update(labels)
        objs = {
            key: {
                "metadata": {
                    "namespace": key.split("/")[0],
                    "name": key.split("/")[1],
                    "labels": pod_labels[key],
                },
                "spec": {
                    "containers": [
                        {
                            "name": f"c-{port}-{proto.lower()}",
                            "ports": [
                                {
                                    "name": f"serve-{port}-{proto.lower()}",
                                    "containerPort": port,
                                    "protocol": proto,
                                }
                            ],
                        }
                        for port, proto in ports
                    ]
                },
                "status": {"podIP": _ip(key, pods)},
            }
            for key in pods
        }
        peers = {key: Peer.of_pod(from_builtin(Kind.POD, objs[key]), ns_labels[key.split("/")[0]]) for key in pods}
        by_ns = {ns: [p for (pns, _), p in sorted(policies.items()) if pns == ns] for ns in NAMESPACES}
        sets: dict[str, Any] = {ns: PolicySet(v) if indexed else v for ns, v in by_ns.items()}
        for probe in step.get("probes") or []:
            want = {(a, b): True for a in pods for b in pods if a != b}
            for e in probe["expect"]:
                kind = e[0]
                if kind == "peer":
                    for a in pods:
                        for b in pods:
                            if a != b and _matches(e[1], a) and _matches(e[2], b):
                                want[(a, b)] = e[3]
                elif kind == "all_ingress":
                    for a in pods:
                        if a != e[1]:
                            want[(a, e[1])] = e[2]
                elif kind == "all_egress":
                    for b in pods:
                        if b != e[1]:
                            want[(e[1], b)] = e[2]
                elif kind == "pair":
                    want[(e[1], e[2])] = e[3]
                else:
                    raise ValueError(f"unknown expectation {kind}")
            port, proto = probe["port"], probe["protocol"]
            for (a, b), expected in want.items():
                got = connection_allowed(
                    sets[a.split("/")[0]], sets[b.split("/")[0]], peers[a], peers[b], int(port), proto
                )
                if got != expected:
                    errors.append(f"step {i} {proto}/{port} {a} -> {b}: expected {expected}, got {got}")
    return errors


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    doc = yaml.safe_load(path.read_text())
    cases = doc["cases"]
    bad = 0
    for indexed in (False, True):
        failed = {c["name"]: errs for c in cases if (errs := run_case(c, indexed))}
        what = "PolicySet (indexed)" if indexed else "plain list"
        print(f"{what}: {len(cases) - len(failed)}/{len(cases)} cases agree with the truth tables")
        for name, errs in failed.items():
            print(f"  {name}: {errs[0]} ({len(errs)} disagreement(s))")
        bad += len(failed)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
