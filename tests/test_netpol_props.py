"""Invariants of the NetworkPolicy decision procedure over generated policies, pods and peers (hypothesis).

- the order of policies does not matter;
- a policy that selects no pod (of the subject) changes nothing;
- adding an allow rule never blocks (for egress: to a policy whose effective types do not change);
- the "who may reach it" view (ingress_admission) agrees with ingress_decision;
- a non-isolated pod admits everything; an isolated one exactly when some rule admits;
- an `ingress: [{}]` policy selecting the pod admits everything;
- to_yaml output parses back to the same data;
- the indexed, memoised PolicySet gives the same answers as the plain list.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import msgspec
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubediag.kinds import from_builtin
from kubediag.model import Kind
from kubediag.netpol import (
    EGRESS,
    INGRESS,
    Decision,
    Direction,
    Peer,
    PolicySet,
    effective_policy_types,
    egress_decision,
    explain_denial,
    ingress_admission,
    ingress_decision,
    isolating_policies,
    peer_matches,
    peer_mismatch,
    service_port_rules,
    to_yaml,
)
from kubediag.objects import NetworkPolicy, NetworkPolicyPeer, Pod

SETTINGS = settings(max_examples=200, deadline=None)

KEYS = ["app", "tier", "env"]
VALUES = ["a", "b", "c"]
NAMESPACES = ["ns1", "ns2", "ns3"]
# most policies and pods live in ns1, so that policies select the subject often enough to matter
WEIGHTED_NAMESPACES = ["ns1", "ns1", "ns1", "ns2", "ns3"]
IPS = ["10.0.0.5", "10.1.2.3", "192.168.0.9", "172.17.1.1"]
CONTAINER_PORTS = [
    {"name": "http", "containerPort": 8080},
    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    {"name": "metrics", "containerPort": 9090},
]

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


# A catalog of label selectors (drawn whole: generating nested dicts draw by draw is slow). It covers the
# empty selector, matchLabels, every operator, and combinations, over a small label space so they collide.
SELECTOR_CATALOG: list[dict[str, Any]] = [
    {},
    {},
    {},
    {"matchLabels": {"app": "a"}},
    {"matchLabels": {"app": "b"}},
    {"matchLabels": {"tier": "a"}},
    {"matchLabels": {"app": "a", "tier": "b"}},
    {"matchLabels": {"env": "c"}},
    {"matchExpressions": [_expr("app", "In", "a", "b")]},
    {"matchExpressions": [_expr("env", "In", "c")]},
    {"matchExpressions": [_expr("app", "NotIn", "a")]},
    {"matchExpressions": [_expr("tier", "NotIn", "a", "c")]},
    {"matchExpressions": [_expr("env", "Exists")]},
    {"matchExpressions": [_expr("tier", "DoesNotExist")]},
    {"matchLabels": {"app": "a"}, "matchExpressions": [_expr("env", "DoesNotExist")]},
    {"matchLabels": {"tier": "b"}, "matchExpressions": [_expr("app", "NotIn", "c"), _expr("env", "Exists")]},
]


_SELECTORS = st.sampled_from(SELECTOR_CATALOG)


def selectors() -> st.SearchStrategy[dict[str, Any]]:
    return _SELECTORS


ip_blocks = st.builds(
    lambda cidr, exc: {"cidr": cidr, **({"except": exc} if exc else {})},
    st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "192.168.0.0/24"]),
    st.lists(st.sampled_from(["10.1.2.0/24", "10.0.0.0/16", "172.17.1.0/24"]), max_size=1),
)

peer_elements = st.one_of(
    st.builds(lambda s: {"podSelector": s}, selectors()),
    st.builds(lambda s: {"namespaceSelector": s}, selectors()),
    st.builds(lambda a, b: {"podSelector": a, "namespaceSelector": b}, selectors(), selectors()),
    st.builds(lambda b: {"ipBlock": b}, ip_blocks),
)

protocols = st.sampled_from(["TCP", "UDP"])
port_entries = st.one_of(
    st.builds(lambda proto: {"protocol": proto}, protocols),
    st.builds(
        lambda p, proto: {"port": p, "protocol": proto}, st.sampled_from([80, 8080, 53, 9090]), protocols
    ),
    st.builds(lambda p: {"port": p}, st.sampled_from(["http", "dns", "metrics", "nope"])),
    st.builds(
        lambda p, e: {"port": p, "endPort": e},
        st.sampled_from([53, 8000, 8080]),
        st.sampled_from([8080, 9100]),
    ),
)


def _rules(direction: Direction) -> st.SearchStrategy[dict[str, Any]]:
    key = "from" if direction == INGRESS else "to"

    def build(peers: list[dict[str, Any]] | None, ports: list[dict[str, Any]] | None) -> dict[str, Any]:
        rule: dict[str, Any] = {}
        if peers is not None:
            rule[key] = peers
        if ports is not None:
            rule["ports"] = ports
        return rule

    return st.builds(
        build,
        st.one_of(st.none(), st.just([]), st.lists(peer_elements, min_size=1, max_size=2)),
        st.one_of(st.none(), st.just([]), st.lists(port_entries, min_size=1, max_size=2)),
    )


_RULES = {INGRESS: _rules(INGRESS), EGRESS: _rules(EGRESS)}


def rules(direction: Direction) -> st.SearchStrategy[dict[str, Any]]:
    """Strategies are built once: rebuilding them inside composite draws is what makes hypothesis slow."""
    return _RULES[direction]


@st.composite
def policy_bodies(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": draw(selectors())}
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    ingress = draw(st.one_of(st.none(), st.just([]), st.lists(rules(INGRESS), min_size=1, max_size=2)))
    if ingress is not None:
        spec["ingress"] = ingress
    egress = draw(st.one_of(st.none(), st.just([]), st.lists(rules(EGRESS), min_size=1, max_size=2)))
    if egress is not None:
        spec["egress"] = egress
    return {
        "kind": "NetworkPolicy",
        "metadata": {"namespace": draw(st.sampled_from(WEIGHTED_NAMESPACES))},
        "spec": spec,
    }


def named(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, b in enumerate(bodies):
        p = copy.deepcopy(b)
        p["metadata"]["name"] = f"p{i}"
        out.append(p)
    return out


policy_lists = st.lists(policy_bodies(), min_size=1, max_size=4).map(named)


def typed(policies: Iterable[dict[str, Any]]) -> list[NetworkPolicy]:
    """Generated policies (API JSON) as the gatherer holds them."""
    return [from_builtin(Kind.NETWORKPOLICY, p) for p in policies]


@st.composite
def pods(draw: st.DrawFn) -> Pod:
    return from_builtin(  # type: ignore[no-any-return]
        Kind.POD,
        {
            "kind": "Pod",
            "metadata": {
                "name": "pod",
                "namespace": draw(st.sampled_from(WEIGHTED_NAMESPACES)),
                "labels": draw(labels_st),
            },
            "spec": {"containers": [{"name": "c", "ports": CONTAINER_PORTS}]},
            "status": {"podIP": draw(st.sampled_from(IPS))},
        },
    )


ns_label_maps = st.fixed_dictionaries({ns: labels_st for ns in NAMESPACES})


@st.composite
def peers(draw: st.DrawFn) -> Peer:
    ns_labels = draw(ns_label_maps)
    if draw(st.booleans()):
        return Peer.external(draw(st.sampled_from(IPS)))
    p = draw(pods())
    return Peer.of_pod(p, ns_labels[p.metadata.namespace])


ports = st.sampled_from([53, 80, 8080, 8080, 9090, 12345])


def decide(
    direction: Direction,
    policies: list[NetworkPolicy],
    subject: Pod,
    other: Peer,
    port: int,
    proto: str,
) -> Decision:
    if direction == INGRESS:
        return ingress_decision(policies, subject, other, port, proto)
    return egress_decision(policies, subject, other, port, proto)


directions = st.sampled_from([INGRESS, EGRESS])


@SETTINGS
@given(directions, policy_lists, pods(), peers(), ports, protocols, st.randoms(use_true_random=False))
def test_policy_order_does_not_matter(
    direction: Direction,
    policies: list[dict[str, Any]],
    subject: Pod,
    other: Peer,
    port: int,
    proto: str,
    rnd: Any,
) -> None:
    policies = typed(policies)
    shuffled = list(policies)
    rnd.shuffle(shuffled)
    assert decide(direction, policies, subject, other, port, proto) == decide(
        direction, shuffled, subject, other, port, proto
    )


@SETTINGS
@given(directions, policy_lists, policy_bodies(), pods(), peers(), ports, protocols, st.booleans())
def test_a_policy_selecting_no_pod_changes_nothing(
    direction: Direction,
    policies: list[dict[str, Any]],
    extra: dict[str, Any],
    subject: Pod,
    other: Peer,
    port: int,
    proto: str,
    elsewhere: bool,
) -> None:
    extra = copy.deepcopy(extra)
    extra["metadata"]["name"] = "extra"
    if elsewhere:  # a policy of another namespace never selects the subject
        ns = subject.metadata.namespace
        extra["metadata"]["namespace"] = next(n for n in NAMESPACES if n != ns)
    else:  # same namespace, a selector no pod carries
        extra["metadata"]["namespace"] = subject.metadata.namespace
        extra["spec"]["podSelector"] = {"matchLabels": {"no-such-label": "x"}}
    assert decide(direction, typed([*policies, extra]), subject, other, port, proto) == decide(
        direction, typed(policies), subject, other, port, proto
    )


@SETTINGS
@given(directions, policy_lists, st.data(), pods(), peers(), ports, protocols)
def test_adding_an_allow_rule_never_blocks(
    direction: Direction,
    policies: list[dict[str, Any]],
    data: st.DataObject,
    subject: Pod,
    other: Peer,
    port: int,
    proto: str,
) -> None:
    if not policies:
        return
    before = decide(direction, typed(policies), subject, other, port, proto)
    i = data.draw(st.integers(0, len(policies) - 1))
    rule = data.draw(rules(direction))
    changed = copy.deepcopy(policies)
    target = changed[i]
    types_before = effective_policy_types(typed([target])[0])
    target["spec"][direction] = [*(target["spec"].get(direction) or []), rule]
    after = decide(direction, typed(changed), subject, other, port, proto)
    if effective_policy_types(typed([target])[0]) != types_before:
        # the one exception: the first egress rule of a policy without policyTypes adds Egress to its types
        assert direction == EGRESS and "policyTypes" not in target["spec"]
        return
    if before.allowed:
        assert after.allowed
    assert set(before.allowed_by) <= set(after.allowed_by)


def test_first_egress_rule_without_policy_types_can_block() -> None:
    """The exception above, concretely: `egress: []` defaults to Ingress only; one egress rule isolates egress."""
    src = from_builtin(Kind.POD, {"kind": "Pod", "metadata": {"name": "s", "namespace": "ns1", "labels": {}}, "spec": {}})
    p = {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "ns1"}, "spec": {"podSelector": {}}}
    dst = Peer.external("8.8.8.8")
    assert egress_decision(typed([p]), src, dst, 53, "UDP").allowed
    p["spec"]["egress"] = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]
    assert not egress_decision(typed([p]), src, dst, 53, "UDP").allowed


@SETTINGS
@given(policy_lists, pods(), peers(), ports, protocols)
def test_admission_agrees_with_decision(
    policies: list[dict[str, Any]], dst: Pod, src: Peer, port: int, proto: str
) -> None:
    policies = typed(policies)
    d = ingress_decision(policies, dst, src, port, proto)
    adm = ingress_admission(policies, dst, port, proto)
    assert adm.isolated == d.isolated
    assert adm.isolating == d.isolating
    assert adm.admits(src) == d.allowed
    # the decision names the first matching element of each admitting rule; the admission lists them all
    assert {(a.rule.policy, a.rule.rule) for a in adm.allowed if a.matches(src)} == {
        (r.policy, r.rule) for r in d.allowed_by
    }


@SETTINGS
@given(directions, policy_lists, pods(), peers(), ports, protocols)
def test_decision_shape(
    direction: Direction,
    policies: list[dict[str, Any]],
    subject: Pod,
    other: Peer,
    port: int,
    proto: str,
) -> None:
    d = decide(direction, typed(policies), subject, other, port, proto)
    if not d.isolated:
        assert d.allowed and d.deciding == () and d.isolating == ()
    else:
        assert d.allowed == bool(d.allowed_by)
        assert d.isolating == tuple(sorted(d.isolating))
        assert d.deciding
        assert not set(d.allowed_by) & set(d.peer_only)


@SETTINGS
@given(policy_lists, pods(), peers(), ports, protocols)
def test_allow_all_policy_admits_everything(
    policies: list[dict[str, Any]], dst: Pod, src: Peer, port: int, proto: str
) -> None:
    allow_all = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all", "namespace": dst.metadata.namespace},
        "spec": {"podSelector": {}, "ingress": [{}]},
    }
    assert ingress_decision(typed([*policies, allow_all]), dst, src, port, proto).allowed


@SETTINGS
@given(peer_elements, st.sampled_from(NAMESPACES), peers())
def test_every_mismatch_is_explained(raw: dict[str, Any], policy_ns: str, other: Peer) -> None:
    elem = msgspec.convert(raw, NetworkPolicyPeer)
    why = peer_mismatch(policy_ns, elem, other)
    assert (why is None) == peer_matches(policy_ns, elem, other)
    assert why != "does not match"  # the explanation found the reason the fast path saw


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
json_data = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8),
            children,
            max_size=3,
        ),
    ),
    max_leaves=12,
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec"]), json_data, min_size=1))
def test_to_yaml_round_trips(data: dict[str, Any]) -> None:
    assert yaml.safe_load(to_yaml(data)) == data


# ---- the indexed PolicySet answers exactly as the plain scan ---------------------------------------------
def _with_names(bodies: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    out = []
    for b, n in zip(bodies, names, strict=False):
        p = copy.deepcopy(b)
        p["metadata"]["name"] = n
        out.append(p)
    return out


# names drawn from a small set: duplicates (in one namespace or across) check that ties sort as the scan does
indexed_policy_lists = st.lists(policy_bodies(), min_size=0, max_size=8).flatmap(
    lambda bodies: st.lists(
        st.sampled_from(["a", "b", "c", "p"]), min_size=len(bodies), max_size=len(bodies)
    ).map(lambda names: _with_names(bodies, names))
)


OTHER_CONTAINER_PORTS = [{"name": "http", "containerPort": 9090}, {"name": "metrics", "containerPort": 8080}]


@SETTINGS
@given(
    indexed_policy_lists,
    st.lists(st.tuples(pods(), st.booleans()), min_size=1, max_size=4),
    peers(),
    ports,
    protocols,
)
def test_policy_set_agrees_with_the_plain_scan(
    policies: list[dict[str, Any]],
    drawn: list[tuple[Pod, bool]],
    other: Peer,
    port: int,
    proto: str,
) -> None:
    # pods with the same labels but other numbers behind the port names: memoised answers must not mix them
    subjects = []
    for pod, twin_first in drawn:
        doc = msgspec.to_builtins(pod)
        doc["spec"]["containers"][0]["ports"] = OTHER_CONTAINER_PORTS
        twin = from_builtin(Kind.POD, doc)
        subjects += [twin, pod] if twin_first else [pod, twin]
    policies = typed(policies)
    indexed = PolicySet(policies)
    for _ in range(2):  # the second round answers from the memo
        for subject in subjects:
            ns, labels = subject.metadata.namespace, subject.metadata.labels
            for direction in (INGRESS, EGRESS):
                assert isolating_policies(indexed, ns, labels, direction) == isolating_policies(
                    policies, ns, labels, direction
                )
                assert decide(direction, indexed, subject, other, port, proto) == decide(  # type: ignore[arg-type]
                    direction, policies, subject, other, port, proto
                )
                assert explain_denial(
                    direction, indexed, subject, other, subject, port, proto
                ) == explain_denial(direction, policies, subject, other, subject, port, proto)
                assert service_port_rules(direction, indexed, subject, subject, 80, port, proto) == (
                    service_port_rules(direction, policies, subject, subject, 80, port, proto)
                )
            assert ingress_decision(indexed, subject, other, port, proto) == ingress_decision(
                policies, subject, other, port, proto
            )
            assert egress_decision(indexed, subject, other, port, proto) == egress_decision(
                policies, subject, other, port, proto
            )
            assert ingress_admission(indexed, subject, port, proto) == ingress_admission(
                policies, subject, port, proto
            )
