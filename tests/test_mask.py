"""--mask (kubediag.mask): label values, IP addresses and host names never reach a masked report.

The snapshots are built so that every sensitive value appears in the unmasked report (near-miss labels, a
typo'd selector value, node names and external IPs in a NodePort warning, pod IPs, dual-stack addresses, a
server URL in an error), then the masked JSON, Markdown and text are searched for each of them.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import msgspec
import pytest
from fixtureload import build_data
from rich.console import Console
from test_engine import pod, slice_for, svc

from kubediag.cli import Output, emit_report
from kubediag.engine import Report, diagnose
from kubediag.mask import Masker
from kubediag.render.json import report as to_json
from kubediag.render.json import report_dict
from kubediag.render.markdown import report as to_markdown
from kubediag.render.text import report as render_text
from kubediag.schemas import load
from kubediag.snapshot import ClusterData, Snapshot

SCHEMA = load("svc-report")


def node(name: str, zone: str, internal: str, external: str | None = None) -> dict[str, Any]:
    addresses = [
        {"type": "InternalIP", "address": internal},
        {"type": "Hostname", "address": f"{name}.corp.example"},
    ]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone, "pool": "pool-blue"}},
        "status": {"addresses": addresses, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def typo_cluster() -> ClusterData:
    """A selector with a typo: the report quotes the selector value and the near-miss pod's labels."""
    pods = [
        pod("pod-a", {"app": "frontend-prod", "team": "team-payments", "ver": "v1.2.3"}, ip="10.244.1.5"),
        pod("pod-b", {"app": "frontend-prod", "team": "team-payments", "ver": "v1.2.3"}, ip="10.244.2.6"),
    ]
    deploy = {
        "kind": "Deployment",
        "metadata": {"name": "deploy-a", "namespace": "shop", "labels": {"team": "team-payments"}},
        "spec": {
            "selector": {"matchLabels": {"app": "frontend-prod"}},
            "template": {"metadata": {"labels": {"app": "frontend-prod"}}},
        },
    }
    for p in pods:
        p["metadata"]["ownerReferences"] = [
            {"kind": "ReplicaSet", "name": "deploy-a-5d8f", "controller": True}
        ]
    service = svc(selector={"app": "front-end-prod"})
    service["metadata"]["labels"] = {"team": "team-payments"}
    return build_data(
        [service, *pods, deploy],
        {"events": f"error: https://192.0.2.44:6443 answered 500 {'Internal Server Error'}"},
    )


def nodeport_cluster() -> ClusterData:
    """A dual-stack NodePort Service on nodes with external IPs: node names, host names and IPs in findings."""
    pods = [
        pod("pod-a", {"app": "shop-api"}, ip="10.244.1.5"),
        pod("pod-b", {"app": "shop-api"}, ip="10.244.2.6", ready=False),
    ]
    pods[0]["status"]["podIPs"] = [{"ip": "10.244.1.5"}, {"ip": "fd00:10:244::5"}]
    pods[0]["spec"]["nodeName"] = "worker-17"
    pods[1]["spec"]["nodeName"] = "worker-18"
    service = svc(
        selector={"app": "shop-api"},
        type="NodePort",
        clusterIPs=["10.96.7.7", "fd00:96::7"],
        ipFamilies=["IPv4", "IPv6"],
        ipFamilyPolicy="PreferDualStack",
    )
    service["spec"]["clusterIP"] = "10.96.7.7"
    service["spec"]["ports"][0]["nodePort"] = 30080
    nodes = [
        node("worker-17", "zone-east-1", "10.240.0.17", "203.0.113.17"),
        node("worker-18", "zone-east-2", "10.240.0.18", "203.0.113.18"),
    ]
    return build_data([service, *pods, slice_for("web", pods[:1]), *nodes])


CLUSTERS = {"typo": typo_cluster, "nodeport": nodeport_cluster}


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def sensitive_values(data: ClusterData) -> dict[str, str]:
    """value -> what it is: every label and selector value, every IP address, every node/host name."""
    objs = [
        *map(msgspec.to_builtins, data.services),
        *map(msgspec.to_builtins, data.pods),
        *map(msgspec.to_builtins, data.nodes),
        *map(msgspec.to_builtins, data.deployments),
        *map(msgspec.to_builtins, data.endpointslices),
    ]
    out: dict[str, str] = {}
    for o in objs:
        for v in ((o.get("metadata") or {}).get("labels") or {}).values():
            if v not in ("web",):  # the EndpointSlice's service-name label is the Service's own name
                out[v] = "label"
    for s in data.services:
        for v in s.spec.selector.values():
            out[v] = "selector"
    for text in _strings([dict(o) for o in objs]):
        try:
            ipaddress.ip_address(text)
            out[text] = "ip"
        except ValueError:
            pass
    for n in data.nodes:
        out[n.metadata.name] = "node"
        for a in n.status.addresses:
            out[a.address] = a.type
    for u in data.unavailable.values():
        out.update({m: "ip" for m in re.findall(r"\d+\.\d+\.\d+\.\d+", u.detail)})
    return out


def masked(data: ClusterData) -> tuple[Report, Report, Masker]:
    report = diagnose(Snapshot("shop", "web", data))
    masker = Masker.from_data(data)
    return report, masker.report(report), masker


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_every_sensitive_value_is_in_the_report_and_gone_when_masked(name: str) -> None:
    data = CLUSTERS[name]()
    report, hidden, _ = masked(data)
    plain = to_json(report)
    values = sensitive_values(data)
    shown = {v: what for v, what in values.items() if v in plain}
    # the scenario must expose enough to be a real test of masking
    assert len(shown) >= 4, (name, shown)
    out_json = to_json(hidden)
    out_md = to_markdown(hidden)
    buf = io.StringIO()
    render_text(hidden, Console(file=buf, width=300, no_color=True))
    for value, what in values.items():
        for fmt, text in (("json", out_json), ("markdown", out_md), ("text", buf.getvalue())):
            assert value not in text, f"{what} {value!r} leaks in the masked {fmt} report"


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_masked_report_is_schema_valid_and_keeps_its_verdict(name: str) -> None:
    report, hidden, _ = masked(CLUSTERS[name]())
    doc = report_dict(hidden)
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] == report.status.value
    plain = report_dict(report)
    assert plain["findings"], "the scenario has findings to mask"
    assert [f["category"] for f in doc["findings"]] == [f["category"] for f in plain["findings"]]
    assert [c["outcome"] for c in doc["checks"]] == [r.outcome.value for r in report.results]


def test_same_value_same_placeholder_everywhere() -> None:
    data = typo_cluster()
    _, hidden, masker = masked(data)
    doc = report_dict(hidden)
    typo = masker.secrets["front-end-prod"]
    real = masker.secrets["frontend-prod"]
    assert typo != real and typo.startswith("<label-") and real.startswith("<label-")
    assert doc["service"]["selector"] == {"app": typo}
    rc = doc["root_cause"]
    assert rc["category"] == "selector-no-match"
    assert f"app={typo}" in rc["message"] and real in rc["message"]  # the near miss still reads
    assert any(e["observed"] == f"app={typo}" for e in rc["evidence"])
    assert real in rc["remediation"]  # the fix still names the label value the pods have (as a placeholder)
    # a second masking of the same data gives the same placeholders: stable across runs
    _, again, _ = masked(typo_cluster())
    assert to_json(again) == to_json(hidden)


def test_placeholders_are_stable_and_distinct() -> None:
    m = Masker()
    once = m.text("from 10.0.0.1 to 10.0.0.2, back to 10.0.0.1:8080 and [fd00::1]:80 / fd00::1.")
    assert once.count("<ip-1>") == 2 and once.count("<ip-2>") == 1 and once.count("<ip-3>") == 2
    assert not re.search(r"\d+\.\d+\.\d+\.\d+|fd00", once)
    assert m.text("10.0.0.2") == "<ip-2>"  # same value, same placeholder, later too


@pytest.mark.parametrize(
    "text",
    [
        "answers on 203.0.113.5:30080 from outside",  # ip:port
        "pod has IP 10.244.0.9.",  # end of sentence
        "ip:10.1.2.3",
        "https://192.0.2.1:6443 answered 503",
        "cidr 10.0.0.0/8, and fd00:10:244::/64",
        "v6 fd00::1.",
        "mapped ::ffff:10.0.0.1 address",
    ],
)
def test_ips_are_found_in_any_position(text: str) -> None:
    out = Masker().text(text)
    assert "<ip-" in out
    assert not re.search(r"(?<![\w<-])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|fd00", out), out


@pytest.mark.parametrize("text", ["version 1.2.3.4.5", "at 12:30:45", "build 1.2.3", "999.1.1.1"])
def test_non_ips_are_left_alone(text: str) -> None:
    assert Masker().text(text) == text


def test_label_values_are_masked_as_whole_tokens_only() -> None:
    m = Masker()
    m._token("web", "label")
    assert m.text("app=web, web-2 and webby") == "app=<label-1>, web-2 and webby"


def test_cli_mask_path_writes_masked_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = nodeport_cluster()
    snap = Snapshot("shop", "web", data)
    emit_report(diagnose(snap), Output.json, True, snap)
    out = capsys.readouterr().out
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    for value in sensitive_values(data):
        assert value not in out, value
