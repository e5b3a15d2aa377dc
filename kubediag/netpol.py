"""NetworkPolicy (networking.k8s.io/v1) decision procedure: may traffic go from one peer to another? Pure.

The semantics, as the API defines them (networking/v1 types and defaulting, kubernetes.io network-policies):

- A pod is *isolated* for a direction when a policy in its namespace selects it (`spec.podSelector`, `{}` =
  every pod) and the direction is among the policy's effective types: `policyTypes` when set; otherwise
  Ingress always, plus Egress when `egress` is non-empty (the API server's defaulting; an egress-only policy
  written without `policyTypes` therefore also isolates ingress with no ingress rule: a silent deny).
- A connection is allowed when the destination admits it on ingress AND the source admits it on egress. A
  non-isolated side admits everything. Rules (across every isolating policy) are OR-ed; within a rule a peer
  match AND a port match; an absent or empty `from`/`to`/`ports` matches everything; `ingress: []` denies,
  `ingress: [{}]` admits everything.
- Peers: `podSelector` alone selects pods in the policy's own namespace; `namespaceSelector` alone every pod
  of the matching namespaces (`{}` = every namespace); both in one element are ANDed (two elements: ORed);
  `ipBlock` is `cidr` minus `except` and matches the peer's IP. Whether a CNI matches *pod* IPs against
  ipBlock is implementation-defined (Cilium does not, Calico does): this module matches any known IP.
- Ports are pod ports (after the Service's DNAT: the resolved targetPort), never the Service port. The
  protocol defaults to TCP; `port` absent = every port of that protocol; `endPort` makes a numeric range; a
  named port resolves against the *destination* pod's serving containers (name and protocol) — on egress too.

Not modelled: traffic from the destination's own node (always allowed), hostNetwork pods (undefined), the
pre/post-DNAT address of ClusterIP traffic seen by ipBlock (undefined), and CNIs that do not enforce policy.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from kubediag.labels import format_selector, labels_of, selector_matches
from kubediag.objects import (
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    NetworkPolicyEgressRule,
    NetworkPolicyIngressRule,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicySpec,
    Pod,
)
from kubediag.snapshot import name_of, ns_of
from kubediag.workloads import pod_ip, serving_containers

Direction = Literal["ingress", "egress"]
INGRESS: Direction = "ingress"
EGRESS: Direction = "egress"
NS_NAME_LABEL = "kubernetes.io/metadata.name"

_TYPE = {INGRESS: "Ingress", EGRESS: "Egress"}
_PEERS = {INGRESS: "from", EGRESS: "to"}
Rule = NetworkPolicyIngressRule | NetworkPolicyEgressRule


# ---- peers ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Peer:
    """One end of a connection: a pod (namespace set) or a client outside the pod network (namespace None)."""

    name: str  # for messages: "shop/frontend-1", "10.0.0.5"
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    pod: Pod | None = None  # the pod object, when there is one: named ports of a destination resolve on it

    @classmethod
    def of_pod(cls, pod: Pod, namespace_labels: Mapping[str, str] | None = None) -> Peer:
        ns = ns_of(pod)
        ns_labels = dict(namespace_labels or {})
        ns_labels.setdefault(NS_NAME_LABEL, ns)
        return cls(
            name=f"{ns}/{name_of(pod)}",
            namespace=ns,
            labels=dict(labels_of(pod)),
            namespace_labels=ns_labels,
            ip=pod_ip(pod) or None,
            pod=pod,
        )

    @classmethod
    def external(cls, ip: str, name: str = "") -> Peer:
        return cls(name=name or ip, ip=ip)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


# ---- rule references -----------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class RuleRef:
    """Where in a policy a decision was made: `policy/allow-web spec.ingress[1].from[0]`."""

    namespace: str
    policy: str
    direction: Direction
    rule: int | None = None  # None: the policy as a whole (e.g. it has no rules for the direction)
    peer: int | None = None
    port: int | None = None

    @property
    def field(self) -> str:
        out = f"spec.{self.direction}"
        if self.rule is not None:
            out += f"[{self.rule}]"
            if self.peer is not None:
                out += f".{_PEERS[self.direction]}[{self.peer}]"
            if self.port is not None:
                out += f".ports[{self.port}]"
        return out

    def __str__(self) -> str:
        return f"policy/{self.policy} {self.field}"


@dataclass(frozen=True)
class Decision:
    """The verdict of one side (the destination's ingress or the source's egress) for one connection."""

    direction: Direction
    allowed: bool
    isolated: bool
    isolating: tuple[str, ...] = ()  # names of the policies that isolate the pod for this direction, sorted
    allowed_by: tuple[RuleRef, ...] = ()  # every rule that admits the connection
    peer_only: tuple[RuleRef, ...] = ()  # rules whose peer matches but none of whose ports do

    @property
    def deciding(self) -> tuple[str, ...]:
        """The admitting rules when allowed; the isolating policies when denied; () when not isolated."""
        if not self.isolated:
            return ()
        if self.allowed:
            return tuple(str(r) for r in self.allowed_by)
        return tuple(f"policy/{p}" for p in self.isolating)


# ---- policy basics -------------------------------------------------------------------------------------
def effective_policy_types(policy: NetworkPolicy) -> frozenset[str]:
    """`policyTypes` when set; otherwise Ingress, plus Egress when `egress` is non-empty (API defaulting)."""
    spec = policy.spec
    if spec.policy_types:
        return frozenset(spec.policy_types)
    return frozenset({"Ingress", "Egress"} if spec.egress else {"Ingress"})


def silently_isolates_ingress(policy: NetworkPolicy) -> bool:
    """An egress-only policy written without `policyTypes`: it also denies all ingress to its pods."""
    spec = policy.spec
    return not spec.policy_types and bool(spec.egress) and not spec.ingress


def selects(policy: NetworkPolicy, namespace: str, labels: Mapping[str, str]) -> bool:
    return policy.metadata.namespace == namespace and selector_matches(policy.spec.pod_selector, labels)


def isolating_policies(
    policies: Iterable[NetworkPolicy], namespace: str, labels: Mapping[str, str], direction: Direction
) -> tuple[NetworkPolicy, ...]:
    """The policies that select a pod (namespace, labels) and isolate it for `direction`, sorted by name."""
    if isinstance(policies, PolicySet):
        return policies.isolating(namespace, labels, direction)
    return _isolating(policies, namespace, labels, direction)


def _isolating(
    policies: Iterable[NetworkPolicy], namespace: str, labels: Mapping[str, str], direction: Direction
) -> tuple[NetworkPolicy, ...]:
    found = [
        p for p in policies if selects(p, namespace, labels) and _TYPE[direction] in effective_policy_types(p)
    ]
    return tuple(sorted(found, key=lambda p: p.metadata.name))


class PolicySet(tuple[NetworkPolicy, ...]):
    """A tuple of policies that answers `isolating_policies` from an index, memoised per (namespace, labels,
    direction): pods of one workload share their labels, and a policy with matchLabels can only select pods
    carrying one of its pairs, so most policies are never tested against most pods. The answer is the same as
    the plain scan over the tuple (a tested invariant). Build it once per set of policies and reuse it."""

    _index: dict[tuple[str, str], dict[tuple[str, str] | None, list[int]]]
    _memo: dict[tuple[str, frozenset[tuple[str, str]], str], tuple[NetworkPolicy, ...]]
    _admissions: dict[tuple[str, int, int, str], tuple[Mapping[str, str], Admission]]

    def isolating(
        self,
        namespace: str,
        labels: Mapping[str, str],
        direction: Direction,
    ) -> tuple[NetworkPolicy, ...]:
        try:
            key = (namespace, frozenset(labels.items()), direction)
        except TypeError:  # unhashable label values (never from the API): no memo
            return _isolating(self, namespace, labels, direction)
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            memo[key] = self._isolating_indexed(namespace, labels, direction)
        return memo[key]  # type: ignore[no-any-return]

    def _isolating_indexed(
        self, namespace: str, labels: Mapping[str, str], direction: Direction
    ) -> tuple[NetworkPolicy, ...]:
        index = self._by_namespace(namespace, direction)
        # candidates: policies with an empty matchLabels (None) and those whose first pair the pod has;
        # in the tuple's order, so that sorting by name breaks ties exactly as the plain scan does
        picked = list(index.get(None, ()))
        for pair in labels.items():
            picked += index.get(pair, ())
        picked.sort()
        return _isolating((self[i] for i in picked), namespace, labels, direction)

    def admission(self, dst_pod: Pod, port: int, protocol: str) -> Admission:
        """ingress_admission, memoised per (namespace, labels, port, protocol) when no isolating policy names
        a port (a named port resolves on the pod itself: then it is computed for the pod).

        Keyed by the pod's labels dict itself, not by its content: the pods of a LIST page share their equal
        labels dicts (kinds.share_pod_parts), and a key holding a frozenset of every label per distinct
        label set was the largest memo of an audit. Each entry holds its dict, so that its id is never
        another dict's while the memo lives; equal dicts that are not shared get entries of their own, with
        the same answers."""
        md = dst_pod.metadata
        ns, labels = md.namespace, md.labels
        key = (ns, id(labels), port, protocol)
        memo = self.__dict__.get("_admissions")
        if memo is None:
            memo = self.__dict__["_admissions"] = {}
        held: tuple[Mapping[str, str], Admission] | None = memo.get(key)
        if held is not None:  # only answers that do not depend on the pod itself are kept
            return held[1]
        isolated = self.__dict__.setdefault("_isolated_by_labels", {})
        got = isolated.get((ns, id(labels)))
        if got is None:
            got = isolated[(ns, id(labels))] = (labels, self._isolating_indexed(ns, labels, INGRESS))
        isolating = got[1]
        if not isolating:
            memo[key] = (labels, _NOT_ISOLATED)
            return _NOT_ISOLATED
        named = self.__dict__.setdefault("_names_a_port", {})
        for p in isolating:
            if id(p) not in named:
                named[id(p)] = _names_a_port(p)  # the policy is an item of this tuple: its id is stable
            if named[id(p)]:
                return _ingress_admission(self, dst_pod, port, protocol)
        found = _ingress_admission(self, dst_pod, port, protocol)
        memo[key] = (labels, found)
        return found

    def _by_namespace(self, namespace: str, direction: Direction) -> dict[tuple[str, str] | None, list[int]]:
        """For the policies of `namespace` isolating `direction`: their positions, keyed by one
        matchLabels pair (the smallest) or None when matchLabels is empty (only expressions, or `{}`)."""
        indexes = self.__dict__.setdefault("_index", {})
        if (namespace, direction) not in indexes:
            out: dict[tuple[str, str] | None, list[int]] = {}
            for i, p in enumerate(self):
                if p.metadata.namespace != namespace or _TYPE[direction] not in effective_policy_types(p):
                    continue
                match_labels = p.spec.pod_selector.match_labels
                pair: tuple[str, str] | None = None
                if match_labels:
                    pair = min(match_labels.items())  # a pod it selects carries this pair
                out.setdefault(pair, []).append(i)
            indexes[(namespace, direction)] = out
        return indexes[(namespace, direction)]  # type: ignore[no-any-return]


def rules_of(policy: NetworkPolicy, direction: Direction) -> Sequence[Rule]:
    return policy.spec.ingress if direction == INGRESS else policy.spec.egress


# ---- ports ---------------------------------------------------------------------------------------------
def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def resolve_port(pod: Pod | None, target_port: int | str | None, protocol: str = "TCP") -> int | None:
    """A numeric port, or a named port looked up in the pod's serving containers (name and protocol)."""
    number = _as_int(target_port)
    if number is not None:
        return number
    if pod is None or not isinstance(target_port, str) or not target_port:
        return None
    for c in serving_containers(pod):
        for p in c.ports:
            if p.name == target_port and p.protocol == protocol:
                return p.container_port
    return None


def port_matches(entry: NetworkPolicyPort, dst_pod: Pod | None, port: int, protocol: str) -> bool:
    """One NetworkPolicyPort against a pod port: protocol (default TCP), then port / endPort / named port."""
    if (entry.protocol or "TCP") != protocol:
        return False
    spec_port = entry.port
    if spec_port is None or spec_port == "":
        return True
    number = _as_int(spec_port)
    if number is None:  # a named port: it means what the destination pod calls it
        return resolve_port(dst_pod, str(spec_port), protocol) == port
    end = entry.end_port
    return number <= port <= max(number, end) if end is not None else port == number


def describe_port_entry(entry: NetworkPolicyPort) -> str:
    proto = entry.protocol or "TCP"
    port = entry.port
    if port is None or port == "":
        return f"every {proto} port"
    end = entry.end_port
    return f"{port}-{end}/{proto}" if end is not None else f"{port}/{proto}"


def describe_ports(rule: Rule) -> str:
    entries = rule.ports
    return ", ".join(describe_port_entry(e) for e in entries) if entries else "every port"


# ---- peers against policy elements ---------------------------------------------------------------------
def ip_block_matches(block: IPBlock, ip: str | None) -> bool:
    """`cidr` minus every `except`; an unknown or unparsable address matches nothing."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
        net = ipaddress.ip_network(block.cidr, strict=False)
    except ValueError:
        return False
    if addr.version != net.version or addr not in net:
        return False
    for ex in block.except_:
        try:
            if addr in ipaddress.ip_network(str(ex), strict=False):
                return False
        except ValueError:
            continue
    return True


def ip_block_empty(block: IPBlock) -> bool:
    """True when `except` covers the whole `cidr` (or the cidr is invalid): the block matches no address."""
    try:
        net = ipaddress.ip_network(block.cidr, strict=False)
    except ValueError:
        return True
    for ex in block.except_:
        try:
            exn = ipaddress.ip_network(str(ex), strict=False)
        except ValueError:
            continue
        if exn.version == net.version and net.subnet_of(exn):  # type: ignore[arg-type]
            return True
    return False


def peer_matches(policy_namespace: str, elem: NetworkPolicyPeer, peer: Peer) -> bool:
    """One `from`/`to` element against a peer (the fast path of peer_mismatch; they must agree)."""
    block = elem.ip_block
    if block is not None:
        return ip_block_matches(block, peer.ip)
    pod_sel, ns_sel = elem.pod_selector, elem.namespace_selector
    if (pod_sel is None and ns_sel is None) or peer.namespace is None:
        return False
    if ns_sel is None:
        ns_ok = peer.namespace == policy_namespace
    else:
        ns_ok = selector_matches(ns_sel, peer.namespace_labels)
    return ns_ok and (pod_sel is None or selector_matches(pod_sel, peer.labels))


def peer_mismatch(policy_namespace: str, elem: NetworkPolicyPeer, peer: Peer) -> str | None:
    """Why one `from`/`to` element does not match the peer (None when it matches)."""
    if peer_matches(policy_namespace, elem, peer):
        return None
    block = elem.ip_block
    if block is not None:
        if not peer.ip:
            return (
                f"{describe_element(policy_namespace, elem)} matches IP addresses, and {peer.name} has none"
            )
        return f"{peer.name}'s IP {peer.ip} is not in {describe_element(policy_namespace, elem)}"
    pod_sel, ns_sel = elem.pod_selector, elem.namespace_selector
    if pod_sel is None and ns_sel is None:
        return "the element sets no selector and no ipBlock (invalid: it matches nothing)"
    if peer.namespace is None:
        return f"{peer.name} is not a pod; only ipBlock matches clients outside the pod network"
    reasons: list[str] = []
    if ns_sel is None:
        if peer.namespace != policy_namespace:
            reasons.append(
                f"podSelector without namespaceSelector selects pods in {policy_namespace} only, and "
                f"{peer.name} is in {peer.namespace}"
            )
    elif not selector_matches(ns_sel, peer.namespace_labels):
        reasons.append(
            f"namespace {peer.namespace} (labels {_fmt_labels(peer.namespace_labels)}) does not match "
            f"namespaceSelector {format_selector(ns_sel)}"
        )
    pod_ok = pod_sel is None or selector_matches(pod_sel, peer.labels)
    if not pod_ok and pod_sel is not None:
        reasons.append(
            f"pod labels {_fmt_labels(_relevant(peer.labels, pod_sel))} do not match podSelector "
            f"{format_selector(pod_sel)}"
        )
    if not reasons:  # unreachable while peer_matches and this agree
        return "does not match"
    if pod_sel is not None and ns_sel is not None:
        reasons.insert(0, "namespaceSelector AND podSelector are in one element, so both must match")
        if len(reasons) == 2 and not pod_ok:
            reasons.append("to admit every pod of those namespaces as well, make them two list elements")
    return "; ".join(reasons)


def namespace_only_mismatch(policy_namespace: str, elem: NetworkPolicyPeer, peer: Peer) -> bool:
    """The element would match the peer but for its namespaceSelector (matters when namespace labels are unknown)."""
    ns_sel, pod_sel = elem.namespace_selector, elem.pod_selector
    if ns_sel is None or peer.namespace is None or elem.ip_block is not None:
        return False
    return not selector_matches(ns_sel, peer.namespace_labels) and (
        pod_sel is None or selector_matches(pod_sel, peer.labels)
    )


def _relevant(labels: Mapping[str, str], selector: LabelSelector) -> Mapping[str, str]:
    """The labels worth showing against a selector: placement and instance labels (node-copied topology,
    pod-template-hash, ...) are noise unless the selector names them."""
    from kubediag.remedy import is_placement_label

    named = set(selector.match_labels) | {e.key for e in selector.match_expressions}
    return {k: v for k, v in labels.items() if k in named or not is_placement_label(k)}


def _fmt_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def describe_element(policy_namespace: str, elem: NetworkPolicyPeer | None) -> str:
    """A `from`/`to` element in words: 'pods app=web in shop', 'pods app=x in namespaces team=ops', ..."""
    if elem is None:
        return "every source and destination"
    block = elem.ip_block
    if block is not None:
        text = f"ipBlock {block.cidr}"
        if block.except_:
            text += " except " + ",".join(block.except_)
        return text
    pod_sel, ns_sel = elem.pod_selector, elem.namespace_selector
    pods = (
        "every pod"
        if pod_sel is None or format_selector(pod_sel) == "<all>"
        else (f"pods {format_selector(pod_sel)}")
    )
    if ns_sel is None:
        return f"{pods} in {policy_namespace}" if pod_sel is not None else "nothing (no selector)"
    nss = format_selector(ns_sel)
    return f"{pods} in every namespace" if nss == "<all>" else f"{pods} in namespaces {nss}"


def describe_rule(policy: NetworkPolicy, direction: Direction, index: int) -> str:
    rule = rules_of(policy, direction)[index]
    elems = rule.peers
    who = (
        " or ".join(describe_element(policy.metadata.namespace, e) for e in elems)
        if elems
        else ("every source" if direction == INGRESS else "every destination")
    )
    return f"{describe_ports(rule)} {'from' if direction == INGRESS else 'to'} {who}"


# ---- decisions -----------------------------------------------------------------------------------------
def _decide(
    direction: Direction,
    policies: Iterable[NetworkPolicy],
    subject_ns: str,
    subject_labels: Mapping[str, str],
    other: Peer,
    dst_pod: Pod | None,
    port: int,
    protocol: str,
) -> Decision:
    isolating = isolating_policies(policies, subject_ns, subject_labels, direction)
    if not isolating:
        return Decision(direction, allowed=True, isolated=False)
    allowed_by: list[RuleRef] = []
    peer_only: list[RuleRef] = []
    for pol in isolating:
        for i, rule in enumerate(rules_of(pol, direction)):
            elems = rule.peers
            if elems:
                pns = pol.metadata.namespace
                j = next((j for j, e in enumerate(elems) if peer_matches(pns, e, other)), None)
                if j is None:
                    continue
            else:
                j = None
            entries = rule.ports
            ref = RuleRef(pol.metadata.namespace, pol.metadata.name, direction, i, j)
            if not entries or any(port_matches(e, dst_pod, port, protocol) for e in entries):
                allowed_by.append(ref)
            else:
                peer_only.append(ref)
    return Decision(
        direction,
        allowed=bool(allowed_by),
        isolated=True,
        isolating=tuple(p.metadata.name for p in isolating),
        allowed_by=tuple(allowed_by),
        peer_only=tuple(peer_only),
    )


def ingress_decision(
    policies: Iterable[NetworkPolicy], dst_pod: Pod, src: Peer, port: int, protocol: str = "TCP"
) -> Decision:
    """Does `dst_pod` admit `src` on pod port `port`? Only policies in the pod's namespace count."""
    return _decide(INGRESS, policies, ns_of(dst_pod), labels_of(dst_pod), src, dst_pod, port, protocol)


def egress_decision(
    policies: Iterable[NetworkPolicy], src_pod: Pod, dst: Peer, port: int, protocol: str = "TCP"
) -> Decision:
    """May `src_pod` send to `dst` on pod port `port`? Named ports resolve on the destination pod."""
    return _decide(EGRESS, policies, ns_of(src_pod), labels_of(src_pod), dst, dst.pod, port, protocol)


def connection_allowed(
    src_policies: Iterable[NetworkPolicy],
    dst_policies: Iterable[NetworkPolicy],
    src: Peer,
    dst: Peer,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Both sides: the source's egress (when it is a pod) and the destination's ingress (when it is a pod)."""
    if src.pod is not None and not egress_decision(src_policies, src.pod, dst, port, protocol).allowed:
        return False
    return dst.pod is None or ingress_decision(dst_policies, dst.pod, src, port, protocol).allowed


@dataclass(frozen=True)
class Explanation:
    """One reason a rule did not admit a connection, located in its policy."""

    ref: RuleRef
    text: str
    namespace_only: bool = False  # would match but for the namespaceSelector (namespace labels matter)


def explain_denial(
    direction: Direction,
    policies: Iterable[NetworkPolicy],
    subject_pod: Pod,
    other: Peer,
    dst_pod: Pod | None,
    port: int,
    protocol: str = "TCP",
) -> tuple[Explanation, ...]:
    """Why the isolating policies of `subject_pod` do not admit `other` on `port`: one line per near rule."""
    out: list[Explanation] = []
    verb = "from" if direction == INGRESS else "to"
    for pol in isolating_policies(policies, ns_of(subject_pod), labels_of(subject_pod), direction):
        pns, pname = pol.metadata.namespace, pol.metadata.name
        rules = rules_of(pol, direction)
        if not rules:
            if direction == INGRESS and silently_isolates_ingress(pol):
                text = (
                    "lists only egress rules and no policyTypes, so Kubernetes defaults policyTypes to "
                    "[Ingress, Egress]: it isolates ingress with no ingress rule (a silent deny-all); "
                    "add policyTypes: [Egress]"
                )
            else:
                text = f"has no {direction} rules: it denies all {direction} of the pods it selects"
            out.append(Explanation(RuleRef(pns, pname, direction), text))
            continue
        for i, rule in enumerate(rules):
            elems = rule.peers
            entries = rule.ports
            port_ok = not entries or any(port_matches(e, dst_pod, port, protocol) for e in entries)
            matching = [j for j, e in enumerate(elems) if peer_matches(pns, e, other)]
            if (matching or not elems) and not port_ok:
                ref = RuleRef(pns, pname, direction, i, matching[0] if matching else None)
                out.append(
                    Explanation(
                        ref, f"matches {other.name} on {describe_ports(rule)} only, not {port}/{protocol}"
                    )
                )
            elif port_ok and elems and not matching:
                for j, e in enumerate(elems):
                    why = peer_mismatch(pns, e, other) or ""
                    out.append(
                        Explanation(
                            RuleRef(pns, pname, direction, i, j),
                            f"{verb} {describe_element(pns, e)}: {why}",
                            namespace_only_mismatch(pns, e, other),
                        )
                    )
    return tuple(out)


def service_port_rules(
    direction: Direction,
    policies: Iterable[NetworkPolicy],
    subject_pod: Pod,
    dst_pod: Pod | None,
    service_port: int,
    pod_port: int,
    protocol: str = "TCP",
) -> tuple[RuleRef, ...]:
    """Rules of the isolating policies that name the Service port but not the pod port (a classic mistake)."""
    if service_port == pod_port:
        return ()
    out: list[RuleRef] = []
    for pol in isolating_policies(policies, ns_of(subject_pod), labels_of(subject_pod), direction):
        for i, rule in enumerate(rules_of(pol, direction)):
            entries = rule.ports
            if any(port_matches(e, dst_pod, pod_port, protocol) for e in entries):
                continue
            k = next(
                (
                    k
                    for k, e in enumerate(entries)
                    if _as_int(e.port) is not None and port_matches(e, dst_pod, service_port, protocol)
                ),
                None,
            )
            if k is not None:
                out.append(RuleRef(pol.metadata.namespace, pol.metadata.name, direction, i, port=k))
    return tuple(out)


# ---- who may reach a pod (no particular client) ---------------------------------------------------------
@dataclass(frozen=True)
class AllowedPeer:
    """A `from` element (or a whole rule without `from`) that admits traffic on the port being judged."""

    rule: RuleRef
    element: NetworkPolicyPeer | None  # None: the rule has no `from`, every source is admitted

    @property
    def kind(self) -> str:
        """'any', 'ipblock', 'pods' (podSelector alone: the policy's namespace) or 'namespaces'."""
        if self.element is None:
            return "any"
        if self.element.ip_block is not None:
            return "ipblock"
        if self.element.namespace_selector is not None:
            return "namespaces"
        return "pods" if self.element.pod_selector is not None else "none"

    @property
    def pod_selector(self) -> LabelSelector | None:
        return None if self.element is None else self.element.pod_selector

    @property
    def namespace_selector(self) -> LabelSelector | None:
        return None if self.element is None else self.element.namespace_selector

    @property
    def ip_block(self) -> IPBlock | None:
        return None if self.element is None else self.element.ip_block

    def matches(self, peer: Peer) -> bool:
        return self.element is None or peer_matches(self.rule.namespace, self.element, peer)

    def describe(self) -> str:
        if self.element is None:
            return "every source"
        return describe_element(self.rule.namespace, self.element)


@dataclass(frozen=True)
class Admission:
    """Who a pod admits on ingress on one port: `allowed` peers, when it is isolated at all."""

    isolated: bool
    isolating: tuple[str, ...] = ()
    allowed: tuple[AllowedPeer, ...] = ()
    empty_policies: tuple[RuleRef, ...] = ()  # isolating policies without ingress rules
    silent_policies: tuple[str, ...] = ()  # of which: egress-only policies without policyTypes
    other_ports: tuple[tuple[RuleRef, str], ...] = ()  # rules that admit someone on other ports only

    def admits(self, peer: Peer) -> bool:
        """Equals ingress_decision(...).allowed for the same pod and port (a tested invariant)."""
        return not self.isolated or any(a.matches(peer) for a in self.allowed)


def ingress_admission(policies: Iterable[NetworkPolicy], dst_pod: Pod, port: int, protocol: str = "TCP") -> Admission:
    if isinstance(policies, PolicySet):
        return policies.admission(dst_pod, port, protocol)
    return _ingress_admission(policies, dst_pod, port, protocol)


def _names_a_port(policy: NetworkPolicy) -> bool:
    """Whether an ingress rule of `policy` names a port (it then means what the destination pod calls it)."""
    return any(
        _as_int(e.port) is None and e.port not in (None, "")
        for r in rules_of(policy, INGRESS)
        for e in r.ports
    )


_NOT_ISOLATED = Admission(isolated=False)


def _ingress_admission(policies: Iterable[NetworkPolicy], dst_pod: Pod, port: int, protocol: str) -> Admission:
    isolating = isolating_policies(policies, ns_of(dst_pod), labels_of(dst_pod), INGRESS)
    if not isolating:
        return Admission(isolated=False)
    allowed: list[AllowedPeer] = []
    empty: list[RuleRef] = []
    silent: list[str] = []
    other: list[tuple[RuleRef, str]] = []
    for pol in isolating:
        pns, pname = pol.metadata.namespace, pol.metadata.name
        rules = rules_of(pol, INGRESS)
        if not rules:
            empty.append(RuleRef(pns, pname, INGRESS))
            if silently_isolates_ingress(pol):
                silent.append(pname)
        for i, rule in enumerate(rules):
            entries = rule.ports
            if entries and not any(port_matches(e, dst_pod, port, protocol) for e in entries):
                other.append((RuleRef(pns, pname, INGRESS, i), describe_ports(rule)))
                continue
            elems = rule.peers
            if not elems:
                allowed.append(AllowedPeer(RuleRef(pns, pname, INGRESS, i), None))
            allowed.extend(AllowedPeer(RuleRef(pns, pname, INGRESS, i, j), e) for j, e in enumerate(elems))
    return Admission(
        isolated=True,
        isolating=tuple(p.metadata.name for p in isolating),
        allowed=tuple(allowed),
        empty_policies=tuple(empty),
        silent_policies=tuple(silent),
        other_ports=tuple(other),
    )


# ---- remediation: policies as YAML ----------------------------------------------------------------------
def stable_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels that identify a workload's pods (not one pod, its revision or its node): identity labels when
    present, else all labels but placement and instance ones (kubediag.remedy decides which)."""
    from kubediag.remedy import safe_selector_labels

    return safe_selector_labels(labels)


def dns_label(*parts: str) -> str:
    """A valid object name from parts: lower case, [a-z0-9-], at most 63 characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", "-".join(p for p in parts if p).lower()).strip("-")
    return re.sub(r"-+", "-", text)[:63].strip("-") or "allow"


def allow_policy(
    *,
    name: str,
    namespace: str,
    direction: Direction,
    subject: Mapping[str, str],
    peer_pods: Mapping[str, str] | None,
    peer_namespace: str | None,
    ports: Sequence[tuple[int | str, str]],
    ip_block: str | None = None,
) -> dict[str, Any]:
    """A NetworkPolicy admitting one peer: `subject` pods (matchLabels; {} = all) in `namespace` accept (ingress)
    or send (egress) `ports` from/to pods `peer_pods` (None = every pod) of `peer_namespace` (None = the same),
    or from/to the CIDR `ip_block` (a client outside the pod network)."""
    elem: dict[str, Any] = {}
    if peer_pods is not None:
        elem["podSelector"] = {"matchLabels": dict(peer_pods)} if peer_pods else {}
    if ip_block is not None:
        elem = {"ipBlock": {"cidr": ip_block}}
    elif peer_pods is None or (peer_namespace is not None and peer_namespace != namespace):
        elem["namespaceSelector"] = {"matchLabels": {NS_NAME_LABEL: peer_namespace or namespace}}
    rule = {
        _PEERS[direction]: [elem],
        "ports": [{"port": port, "protocol": proto} for port, proto in ports],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": dict(subject)} if subject else {},
            "policyTypes": [_TYPE[direction]],
            direction: [rule],
        },
    }


def _port_json(entry: NetworkPolicyPort) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": entry.protocol}
    if entry.port is not None:
        out["port"] = entry.port
    if entry.end_port is not None:
        out["endPort"] = entry.end_port
    return out


def _peer_json(elem: NetworkPolicyPeer) -> dict[str, Any]:
    return msgspec.to_builtins(elem)  # type: ignore[no-any-return]  # None selectors omitted, {} kept


def _rule_json(rule: Rule, direction: Direction) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.ports:
        out["ports"] = [_port_json(e) for e in rule.ports]
    if rule.peers:
        out[_PEERS[direction]] = [_peer_json(e) for e in rule.peers]
    return out


def spec_json(spec: NetworkPolicySpec) -> dict[str, Any]:
    """A policy's spec as plain JSON data, as the API server returns it: its field order, empty lists
    omitted, `podSelector` and each port's `protocol` always present (the server defaults the protocol)."""
    out: dict[str, Any] = {"podSelector": msgspec.to_builtins(spec.pod_selector)}
    if spec.ingress:
        out["ingress"] = [_rule_json(r, INGRESS) for r in spec.ingress]
    if spec.egress:
        out["egress"] = [_rule_json(r, EGRESS) for r in spec.egress]
    if spec.policy_types:
        out["policyTypes"] = list(spec.policy_types)
    return out


def policy_manifest(policy: NetworkPolicy, spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A policy as one would re-apply it: apiVersion, kind, name, namespace, spec (optionally replaced)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy.metadata.name, "namespace": policy.metadata.namespace},
        "spec": json.loads(json.dumps(spec if spec is not None else spec_json(policy.spec))),
    }


_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines: list[str] = []
        for k, v in value.items():
            key = _scalar(k)
            if isinstance(v, Mapping | list | tuple) and v:
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml_lines(v, indent + 2))
            else:
                lines.append(f"{pad}{key}: {_flow(v)}")
        return lines
    if isinstance(value, list | tuple):  # tuples: msgspec.to_builtins keeps the Structs' tuples
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            sub = _yaml_lines(item, indent + 2)
            lines.append(pad + "- " + sub[0][indent + 2 :])
            lines.extend(sub[1:])
        return lines
    return [pad + _scalar(value)]


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return (
            "{}"
            if not value
            else "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def to_yaml(value: Any) -> str:
    """Block-style YAML for plain JSON data (no dependency; the output parses back to the same data)."""
    return "\n".join(_yaml_lines(value, 0)) + "\n"
