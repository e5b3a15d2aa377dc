"""The NetworkPolicy decision procedure against cases with known verdicts.

Policies are the examples of kubernetes.io/docs/concepts/services-networking/network-policies plus the edge cases
of the networking/v1 API (defaulted policyTypes, empty vs absent lists, AND vs OR peers, named ports, endPort).
Then: remediations printed by the checks, applied to their fixtures, make the finding go away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from fixtureload import FIXTURES, build_data, load_fixture

from kubediag.checks.base import get_check
from kubediag.engine import _run_one
from kubediag.kinds import from_builtin
from kubediag.model import Kind, Outcome, Severity
from kubediag.netpol import (
    EGRESS,
    INGRESS,
    Peer,
    allow_policy,
    connection_allowed,
    effective_policy_types,
    egress_decision,
    explain_denial,
    ingress_admission,
    ingress_decision,
    ip_block_empty,
    resolve_port,
    service_port_rules,
    stable_labels,
    to_yaml,
)
from kubediag.objects import IPBlock, NetworkPolicy, Pod
from kubediag.snapshot import ClientRef, Snapshot

NS_LABELS = {
    "default": {},
    "myproject": {"project": "myproject"},
    "other": {},
    "alice": {"user": "alice"},
    "bob": {"user": "bob"},
    "ops": {"team": "ops"},
}


def pod(
    name: str,
    ns: str = "default",
    ip: str | None = None,
    ports: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    **labels: str,
) -> Pod:
    spec: dict[str, Any] = {"containers": [{"name": "c", "ports": ports or []}]}
    if init:
        spec["initContainers"] = init
    return from_builtin(
        Kind.POD,
        {
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": spec,
            "status": {"podIP": ip or "10.244.9.9"},
        },
    )


def pol(name: str, ns: str = "default", **spec: Any) -> NetworkPolicy:
    spec.setdefault("podSelector", {})
    raw = {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    policy: NetworkPolicy = from_builtin(Kind.NETWORKPOLICY, raw)
    return policy


def peer(p: Pod) -> Peer:
    ns = p.metadata.namespace
    return Peer.of_pod(p, NS_LABELS.get(ns, {}))


def ext(ip: str) -> Peer:
    return Peer.external(ip)


# ---- the documentation's policies ------------------------------------------------------------------------
TEST_NETWORK_POLICY = pol(
    "test-network-policy",
    podSelector={"matchLabels": {"role": "db"}},
    policyTypes=["Ingress", "Egress"],
    ingress=[
        {
            "from": [
                {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                {"podSelector": {"matchLabels": {"role": "frontend"}}},
            ],
            "ports": [{"protocol": "TCP", "port": 6379}],
        }
    ],
    egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}],
)
DEFAULT_DENY_INGRESS = pol("default-deny-ingress", policyTypes=["Ingress"])
ALLOW_ALL_INGRESS = pol("allow-all-ingress", ingress=[{}], policyTypes=["Ingress"])
DEFAULT_DENY_EGRESS = pol("default-deny-egress", policyTypes=["Egress"])
ALLOW_ALL_EGRESS = pol("allow-all-egress", egress=[{}], policyTypes=["Egress"])
DEFAULT_DENY_ALL = pol("default-deny-all", policyTypes=["Ingress", "Egress"])
MULTI_PORT_EGRESS = pol(
    "multi-port-egress",
    podSelector={"matchLabels": {"role": "db"}},
    policyTypes=["Egress"],
    egress=[
        {
            "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}],
        }
    ],
)
ALICE_AND = pol(
    "alice-and",
    ingress=[
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"user": "alice"}},
                    "podSelector": {"matchLabels": {"role": "client"}},
                }
            ]
        }
    ],
)
ALICE_OR = pol(
    "alice-or",
    ingress=[
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"user": "alice"}}},
                {"podSelector": {"matchLabels": {"role": "client"}}},
            ]
        }
    ],
)

DB = pod("db-0", role="db", ports=[{"containerPort": 6379}])
FRONTEND = pod("fe-0", role="frontend", ip="10.244.0.3")
HTTP_PORTS = [
    {"name": "http", "containerPort": 8080},
    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    {"name": "metrics", "containerPort": 9090},
]
WEB = pod("web-0", app="web", ports=HTTP_PORTS, ip="10.244.0.10")


@dataclass(frozen=True)
class Case:
    id: str
    policies: list[NetworkPolicy]
    subject: Pod  # the destination pod (ingress) or the source pod (egress)
    other: Peer  # the source (ingress) or the destination (egress)
    port: int
    allowed: bool
    protocol: str = "TCP"
    direction: str = INGRESS
    isolated: bool = True
    deciding: tuple[str, ...] | None = None  # exact Decision.deciding when given
    extra: dict[str, Any] = field(default_factory=dict)


# fmt: off
CASES = [
    # test-network-policy (the docs' first example)
    Case("docs/frontend-pod-6379", [TEST_NETWORK_POLICY], DB, peer(FRONTEND), 6379, True,
         deciding=("policy/test-network-policy spec.ingress[0].from[2]",)),
    Case("docs/frontend-pod-other-port", [TEST_NETWORK_POLICY], DB, peer(FRONTEND), 6380, False,
         deciding=("policy/test-network-policy",)),
    Case("docs/frontend-pod-udp", [TEST_NETWORK_POLICY], DB, peer(FRONTEND), 6379, False, protocol="UDP"),
    Case("docs/any-pod-in-myproject", [TEST_NETWORK_POLICY], DB, peer(pod("x", "myproject")), 6379, True,
         deciding=("policy/test-network-policy spec.ingress[0].from[1]",)),
    Case("docs/frontend-in-other-namespace", [TEST_NETWORK_POLICY], DB,
         peer(pod("fe", "other", role="frontend")), 6379, False),
    Case("docs/ipblock-inside", [TEST_NETWORK_POLICY], DB, ext("172.17.0.5"), 6379, True,
         deciding=("policy/test-network-policy spec.ingress[0].from[0]",)),
    Case("docs/ipblock-except", [TEST_NETWORK_POLICY], DB, ext("172.17.1.5"), 6379, False),
    Case("docs/ipblock-outside", [TEST_NETWORK_POLICY], DB, ext("172.18.0.1"), 6379, False),
    Case("docs/not-selected-pod", [TEST_NETWORK_POLICY], pod("cache", role="cache"), ext("1.2.3.4"), 6379, True,
         isolated=False, deciding=()),
    Case("docs/egress-ipblock", [TEST_NETWORK_POLICY], DB, ext("10.0.0.5"), 5978, True, direction=EGRESS,
         deciding=("policy/test-network-policy spec.egress[0].to[0]",)),
    Case("docs/egress-other-port", [TEST_NETWORK_POLICY], DB, ext("10.0.0.5"), 80, False, direction=EGRESS),
    Case("docs/egress-to-pod", [TEST_NETWORK_POLICY], DB, peer(FRONTEND), 6379, False, direction=EGRESS),
    # default policies
    Case("docs/default-deny-ingress", [DEFAULT_DENY_INGRESS], WEB, peer(FRONTEND), 8080, False,
         deciding=("policy/default-deny-ingress",)),
    Case("docs/default-deny-ingress-egress-open", [DEFAULT_DENY_INGRESS], WEB, ext("8.8.8.8"), 443, True,
         direction=EGRESS, isolated=False),
    Case("docs/allow-all-ingress", [DEFAULT_DENY_INGRESS, ALLOW_ALL_INGRESS], WEB, ext("8.8.8.8"), 1, True,
         deciding=("policy/allow-all-ingress spec.ingress[0]",)),
    Case("docs/default-deny-egress", [DEFAULT_DENY_EGRESS], WEB, ext("8.8.8.8"), 443, False, direction=EGRESS),
    Case("docs/default-deny-egress-ingress-open", [DEFAULT_DENY_EGRESS], WEB, ext("8.8.8.8"), 8080, True,
         isolated=False),
    Case("docs/allow-all-egress", [DEFAULT_DENY_EGRESS, ALLOW_ALL_EGRESS], WEB, ext("8.8.8.8"), 443, True,
         direction=EGRESS),
    Case("docs/default-deny-all-ingress", [DEFAULT_DENY_ALL], WEB, peer(FRONTEND), 8080, False),
    Case("docs/default-deny-all-egress", [DEFAULT_DENY_ALL], WEB, peer(FRONTEND), 8080, False, direction=EGRESS),
    # endPort
    Case("docs/endport-low", [MULTI_PORT_EGRESS], DB, ext("10.0.0.9"), 32000, True, direction=EGRESS),
    Case("docs/endport-mid", [MULTI_PORT_EGRESS], DB, ext("10.0.0.9"), 32500, True, direction=EGRESS),
    Case("docs/endport-high", [MULTI_PORT_EGRESS], DB, ext("10.0.0.9"), 32768, True, direction=EGRESS),
    Case("docs/endport-above", [MULTI_PORT_EGRESS], DB, ext("10.0.0.9"), 32769, False, direction=EGRESS),
    Case("docs/endport-below", [MULTI_PORT_EGRESS], DB, ext("10.0.0.9"), 31999, False, direction=EGRESS),
    # the AND / OR example
    Case("docs/and-client-in-alice", [ALICE_AND], WEB, peer(pod("c", "alice", role="client")), 8080, True),
    Case("docs/and-other-role-in-alice", [ALICE_AND], WEB, peer(pod("c", "alice", role="x")), 8080, False),
    Case("docs/and-client-in-bob", [ALICE_AND], WEB, peer(pod("c", "bob", role="client")), 8080, False),
    Case("docs/and-client-same-namespace", [ALICE_AND], WEB, peer(pod("c", role="client")), 8080, False),
    Case("docs/or-other-role-in-alice", [ALICE_OR], WEB, peer(pod("c", "alice", role="x")), 8080, True,
         deciding=("policy/alice-or spec.ingress[0].from[0]",)),
    Case("docs/or-client-same-namespace", [ALICE_OR], WEB, peer(pod("c", role="client")), 8080, True,
         deciding=("policy/alice-or spec.ingress[0].from[1]",)),
    Case("docs/or-client-in-bob", [ALICE_OR], WEB, peer(pod("c", "bob", role="client")), 8080, False),
    # targeting a namespace by its immutable name label (present even when namespace labels are unknown)
    Case("docs/metadata-name", [pol("by-name", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ops"}}}]}])], WEB, Peer.of_pod(pod("c", "ops")), 8080, True),
    # ---- edge cases ----
    Case("edge/egress-only-without-policytypes-isolates-ingress",
         [pol("eg", egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}])], WEB, peer(FRONTEND), 8080, False,
         deciding=("policy/eg",)),
    Case("edge/egress-only-with-policytypes", [pol("eg", policyTypes=["Egress"], egress=[
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}])], WEB, peer(FRONTEND), 8080, True, isolated=False),
    Case("edge/empty-egress-without-policytypes-is-ingress-only", [pol("e", egress=[])], WEB, ext("8.8.8.8"), 1,
         True, direction=EGRESS, isolated=False),
    Case("edge/ingress-empty-list-denies", [pol("i", ingress=[])], WEB, peer(FRONTEND), 8080, False),
    Case("edge/ingress-empty-rule-allows", [pol("i", ingress=[{}])], WEB, peer(FRONTEND), 8080, True),
    Case("edge/from-empty-list-matches-all", [pol("i", ingress=[{"from": [], "ports": [{"port": 8080}]}])], WEB,
         ext("203.0.113.9"), 8080, True),
    Case("edge/ports-only-rule-other-port", [pol("i", ingress=[{"ports": [{"port": 8080}]}])], WEB,
         peer(FRONTEND), 9090, False),
    Case("edge/from-only-rule-any-port", [pol("i", ingress=[{"from": [{"podSelector": {}}]}])], WEB,
         peer(FRONTEND), 12345, True),
    Case("edge/ports-empty-list-any-port", [pol("i", ingress=[{"from": [{"podSelector": {}}], "ports": []}])],
         WEB, peer(FRONTEND), 12345, True),
    Case("edge/protocol-defaults-to-tcp", [pol("i", ingress=[{"ports": [{"port": 53}]}])], WEB, peer(FRONTEND),
         53, False, protocol="UDP"),
    Case("edge/protocol-default-tcp-allows-tcp", [pol("i", ingress=[{"ports": [{"port": 53}]}])], WEB,
         peer(FRONTEND), 53, True),
    Case("edge/protocol-only-entry-all-udp", [pol("i", ingress=[{"ports": [{"protocol": "UDP"}]}])], WEB,
         peer(FRONTEND), 5353, True, protocol="UDP"),
    Case("edge/protocol-only-entry-not-tcp", [pol("i", ingress=[{"ports": [{"protocol": "UDP"}]}])], WEB,
         peer(FRONTEND), 5353, False),
    Case("edge/named-port", [pol("i", ingress=[{"ports": [{"port": "http"}]}])], WEB, peer(FRONTEND), 8080, True),
    Case("edge/named-port-other-number", [pol("i", ingress=[{"ports": [{"port": "http"}]}])], WEB,
         peer(FRONTEND), 9090, False),
    Case("edge/named-port-protocol-must-match", [pol("i", ingress=[{"ports": [{"port": "dns"}]}])], WEB,
         peer(FRONTEND), 53, False),
    Case("edge/named-port-udp", [pol("i", ingress=[{"ports": [{"port": "dns", "protocol": "UDP"}]}])], WEB,
         peer(FRONTEND), 53, True, protocol="UDP"),
    Case("edge/named-port-native-sidecar", [pol("i", ingress=[{"ports": [{"port": "proxy"}]}])],
         pod("w", init=[{"name": "envoy", "restartPolicy": "Always", "ports": [{"name": "proxy",
                                                                              "containerPort": 15001}]}]),
         peer(FRONTEND), 15001, True),
    Case("edge/named-port-plain-init-container", [pol("i", ingress=[{"ports": [{"port": "proxy"}]}])],
         pod("w", init=[{"name": "setup", "ports": [{"name": "proxy", "containerPort": 15001}]}]),
         peer(FRONTEND), 15001, False),
    Case("edge/egress-named-port-resolves-on-destination",
         [pol("e", policyTypes=["Egress"], egress=[{"ports": [{"port": "metrics"}]}])], FRONTEND, peer(WEB),
         9090, True, direction=EGRESS),
    Case("edge/egress-named-port-external-never", [pol("e", policyTypes=["Egress"], egress=[
        {"ports": [{"port": "metrics"}]}])], FRONTEND, ext("10.0.0.1"), 9090, False, direction=EGRESS),
    Case("edge/namespace-selector-empty-all-namespaces",
         [pol("i", ingress=[{"from": [{"namespaceSelector": {}}]}])], WEB, peer(pod("x", "bob")), 8080, True),
    Case("edge/namespace-selector-empty-not-external",
         [pol("i", ingress=[{"from": [{"namespaceSelector": {}}]}])], WEB, ext("10.0.0.1"), 8080, False),
    Case("edge/pod-selector-empty-own-namespace-only",
         [pol("i", ingress=[{"from": [{"podSelector": {}}]}])], WEB, peer(pod("x", "bob")), 8080, False),
    Case("edge/pod-selector-empty-own-namespace", [pol("i", ingress=[{"from": [{"podSelector": {}}]}])], WEB,
         peer(pod("x")), 8080, True),
    Case("edge/policy-in-other-namespace-does-not-apply", [pol("deny", "other", policyTypes=["Ingress"])], WEB,
         peer(FRONTEND), 8080, True, isolated=False),
    Case("edge/policy-selecting-other-pods", [pol("deny", podSelector={"matchLabels": {"app": "db"}})], WEB,
         peer(FRONTEND), 8080, True, isolated=False),
    Case("edge/ipblock-matches-pod-ip", [pol("i", ingress=[{"from": [{"ipBlock": {"cidr": "10.244.0.0/24"}}]}])],
         WEB, peer(FRONTEND), 8080, True),
    Case("edge/ipblock-ipv6-vs-ipv4", [pol("i", ingress=[{"from": [{"ipBlock": {"cidr": "::/0"}}]}])], WEB,
         ext("10.0.0.1"), 8080, False),
    Case("edge/ipblock-ipv6", [pol("i", ingress=[{"from": [{"ipBlock": {"cidr": "2001:db8::/32"}}]}])], WEB,
         ext("2001:db8::7"), 8080, True),
    Case("edge/element-without-selector-matches-nothing", [pol("i", ingress=[{"from": [{}]}])], WEB,
         peer(FRONTEND), 8080, False),
    Case("edge/policies-are-additive", [DEFAULT_DENY_INGRESS, pol("allow-fe", ingress=[{"from": [
        {"podSelector": {"matchLabels": {"role": "frontend"}}}]}])], WEB, peer(FRONTEND), 8080, True,
         deciding=("policy/allow-fe spec.ingress[0].from[0]",)),
    Case("edge/deny-only-when-isolated-by-two", [DEFAULT_DENY_INGRESS, pol("deny2", ingress=[])], WEB,
         peer(FRONTEND), 8080, False, deciding=("policy/default-deny-ingress", "policy/deny2")),
    # matchExpressions
    Case("expr/in", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "role", "operator": "In", "values": ["frontend", "admin"]}]}}]}])], WEB, peer(FRONTEND), 1, True),
    Case("expr/in-lacking-key", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a"]}]}}]}])], WEB, peer(FRONTEND), 1, False),
    Case("expr/notin-lacking-key", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "env", "operator": "NotIn", "values": ["dev"]}]}}]}])], WEB, peer(FRONTEND), 1, True),
    Case("expr/notin-excluded", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "role", "operator": "NotIn", "values": ["frontend"]}]}}]}])], WEB, peer(FRONTEND), 1, False),
    Case("expr/exists", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "role", "operator": "Exists"}]}}]}])], WEB, peer(FRONTEND), 1, True),
    Case("expr/doesnotexist", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "role", "operator": "DoesNotExist"}]}}]}])], WEB, peer(FRONTEND), 1, False),
    Case("expr/doesnotexist-lacking-key", [pol("i", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "legacy", "operator": "DoesNotExist"}]}}]}])], WEB, peer(FRONTEND), 1, True),
    Case("expr/namespace-notin", [pol("i", ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "user", "operator": "NotIn", "values": ["bob"]}]}}]}])], WEB, peer(pod("x", "ops")), 1, True),
    Case("expr/namespace-notin-excluded", [pol("i", ingress=[{"from": [{"namespaceSelector": {
        "matchExpressions": [{"key": "user", "operator": "NotIn", "values": ["bob"]}]}}]}])], WEB,
         peer(pod("x", "bob")), 1, False),
    Case("expr/policy-pod-selector", [pol("deny", podSelector={"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["web", "api"]}]}, ingress=[])], WEB, peer(FRONTEND), 1, False),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_decision_table(case: Case) -> None:
    if case.direction == INGRESS:
        d = ingress_decision(case.policies, case.subject, case.other, case.port, case.protocol)
    else:
        d = egress_decision(case.policies, case.subject, case.other, case.port, case.protocol)
    assert d.allowed is case.allowed, d
    assert d.isolated is case.isolated, d
    if case.deciding is not None:
        assert d.deciding == case.deciding
    if case.direction == INGRESS:  # the "who may reach it" view agrees with the decision
        adm = ingress_admission(case.policies, case.subject, case.port, case.protocol)
        assert adm.admits(case.other) is case.allowed


def test_effective_policy_types_follow_api_defaulting() -> None:
    assert effective_policy_types(pol("a")) == {"Ingress"}
    assert effective_policy_types(pol("a", egress=[])) == {"Ingress"}
    assert effective_policy_types(pol("a", egress=[{}])) == {"Ingress", "Egress"}
    assert effective_policy_types(pol("a", policyTypes=["Egress"], egress=[{}])) == {"Egress"}
    assert effective_policy_types(pol("a", policyTypes=[])) == {"Ingress"}


def test_both_sides_must_allow() -> None:
    client = pod("fe", role="frontend")
    allow_in = pol("allow-in", podSelector={"matchLabels": {"app": "web"}}, ingress=[{}])
    deny_out = pol("deny-out", podSelector={"matchLabels": {"role": "frontend"}}, policyTypes=["Egress"])
    assert connection_allowed([allow_in], [allow_in], peer(client), peer(WEB), 8080)
    assert not connection_allowed([allow_in, deny_out], [allow_in, deny_out], peer(client), peer(WEB), 8080)
    assert not connection_allowed([], [DEFAULT_DENY_INGRESS], peer(client), peer(WEB), 8080)
    assert connection_allowed([], [DEFAULT_DENY_INGRESS], peer(client), ext("8.8.8.8"), 53)


@pytest.mark.parametrize(
    ("target", "protocol", "expected"),
    [
        (8080, "TCP", 8080),
        ("8080", "TCP", 8080),
        ("http", "TCP", 8080),
        ("http", "UDP", None),
        ("dns", "UDP", 53),
        ("metrics", "TCP", 9090),
        ("missing", "TCP", None),
        (None, "TCP", None),
    ],
)
def test_resolve_port(target: int | str | None, protocol: str, expected: int | None) -> None:
    assert resolve_port(WEB, target, protocol) == expected


def test_resolve_port_native_sidecar_only() -> None:
    sidecar = {"name": "s", "restartPolicy": "Always", "ports": [{"name": "admin", "containerPort": 9901}]}
    plain = {"name": "i", "ports": [{"name": "boot", "containerPort": 7000}]}
    p = pod("w", init=[sidecar, plain])
    assert resolve_port(p, "admin") == 9901
    assert resolve_port(p, "boot") is None


def test_ip_block_empty() -> None:
    assert ip_block_empty(msgspec.convert({"cidr": "10.0.0.0/24", "except": ["10.0.0.0/16"]}, IPBlock))
    assert not ip_block_empty(msgspec.convert({"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}, IPBlock))
    assert ip_block_empty(IPBlock(cidr="not-a-cidr"))


def test_service_port_rules_find_the_service_port() -> None:
    p = pol("allow", ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": 443}, {"port": 80}]}])
    refs = service_port_rules(INGRESS, [p], WEB, WEB, service_port=80, pod_port=8080)
    assert [str(r) for r in refs] == ["policy/allow spec.ingress[0].ports[1]"]
    assert service_port_rules(INGRESS, [p], WEB, WEB, service_port=8080, pod_port=8080) == ()
    ok = pol("ok", ingress=[{"ports": [{"port": 80}, {"port": 8080}]}])
    assert service_port_rules(INGRESS, [ok], WEB, WEB, service_port=80, pod_port=8080) == ()


def test_explanations_name_rule_paths() -> None:
    client = peer(pod("m", "ops", app="monitor"))
    and_pol = pol(
        "allow-ops",
        podSelector={"matchLabels": {"app": "web"}},
        ingress=[
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"team": "ops"}},
                        "podSelector": {"matchLabels": {"app": "frontend"}},
                    }
                ]
            }
        ],
    )
    (e,) = explain_denial(INGRESS, [and_pol], WEB, client, WEB, 8080)
    assert str(e.ref) == "policy/allow-ops spec.ingress[0].from[0]"
    assert "AND" in e.text and "app=monitor" in e.text and not e.namespace_only
    silent = pol("eg", egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}])
    (e,) = explain_denial(INGRESS, [silent], WEB, client, WEB, 8080)
    assert e.ref.field == "spec.ingress" and "policyTypes" in e.text
    wrong_ns = pol("x", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "dev"}}}]}])
    (e,) = explain_denial(INGRESS, [wrong_ns], WEB, client, WEB, 8080)
    assert e.namespace_only


def test_admission_lists_peers_on_the_port_only() -> None:
    p = pol(
        "mixed",
        ingress=[
            {"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}], "ports": [{"port": 8080}]},
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 9090}]},
        ],
    )
    adm = ingress_admission([p], WEB, 8080)
    assert [str(a.rule) for a in adm.allowed] == ["policy/mixed spec.ingress[0].from[0]"]
    assert [a.kind for a in adm.allowed] == ["pods"]
    assert [(str(r), t) for r, t in adm.other_ports] == [("policy/mixed spec.ingress[1]", "9090/TCP")]


# ---- remediation YAML ------------------------------------------------------------------------------------
def test_to_yaml_round_trips() -> None:
    data = {
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "ops", "v": "1.0", "b": "true"}},
        "spec": {
            "podSelector": {},
            "ingress": [{}, {"from": [], "ports": [{"port": 80, "protocol": "TCP"}]}],
            "odd": ["a: b", "-x", "", None, False, 7, [1, [2]]],
        },
    }
    assert yaml.safe_load(to_yaml(data)) == data


def test_allow_policy_admits_the_client() -> None:
    client = pod("c-1", "ops", app="client", **{"pod-template-hash": "abc"})
    labels = stable_labels(client.metadata.labels)
    assert labels == {"app": "client"}
    fix = allow_policy(
        name="allow",
        namespace="default",
        direction=INGRESS,
        subject={"app": "web"},
        peer_pods=labels,
        peer_namespace="ops",
        ports=[(8080, "TCP")],
    )
    parsed = from_builtin(Kind.NETWORKPOLICY, yaml.safe_load(to_yaml(fix)))
    assert not ingress_decision([DEFAULT_DENY_INGRESS], WEB, peer(client), 8080).allowed
    assert ingress_decision([DEFAULT_DENY_INGRESS, parsed], WEB, peer(client), 8080).allowed
    assert not ingress_decision(
        [DEFAULT_DENY_INGRESS, parsed], WEB, peer(pod("c", "ops", app="x")), 8080
    ).allowed
    assert not ingress_decision([DEFAULT_DENY_INGRESS, parsed], WEB, peer(client), 9090).allowed


# ---- the checks' remediations fix their own fixtures --------------------------------------------------------
def _manifests(remediation: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for chunk in re.split(r"\n(?=apiVersion: )", remediation)[1:]:
        lines = []
        for line in chunk.splitlines():
            if lines and not re.match(r"^(\s|kind:|metadata:|spec:)", line):
                break
            lines.append(line)
        docs.append(yaml.safe_load("\n".join(lines)))
    return docs


FIXABLE = [p for cid in ("KD601", "KD602", "KD603") for p in sorted((FIXTURES / cid).glob("fail-*.yaml"))]


@pytest.mark.parametrize("path", FIXABLE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_remediation_fixes_the_fixture(path: Path) -> None:
    fx = load_fixture(path)
    chk = get_check(fx.check_id)
    assert chk is not None
    result = _run_one(chk, fx.snapshot, blocked_by=None)
    finding = next(f for f in result.findings if f.severity is not Severity.INFO)
    if "CLIENT" in finding.remediation:
        pytest.skip("no client given: the remediation is a template for the intended clients")
    fixes = _manifests(finding.remediation)
    assert fixes, finding.remediation
    doc = yaml.safe_load(path.read_text())
    objects = [
        o
        for o in doc["objects"]
        if not any(o["kind"] == "NetworkPolicy" and o["metadata"] == f["metadata"] for f in fixes)
    ] + fixes
    data = build_data(objects, doc.get("unavailable"), cluster_dns_read=bool(doc.get("cluster_dns_read")))
    client = ClientRef(*doc["from"].split("/", 1)) if doc.get("from") else None
    ns, name = doc["target"].split("/", 1)
    snap = Snapshot(ns, name, data, client)
    after = _run_one(chk, snap, blocked_by=None)
    assert after.outcome is Outcome.PASSED, (finding.remediation, after.findings)
