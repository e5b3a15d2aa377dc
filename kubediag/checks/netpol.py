"""Network policy: do the backends admit clients (ingress), may the client send (egress) and resolve (DNS)?

The decision procedure lives in kubediag.netpol; these checks pick the peers and ports and explain verdicts.
Ports are always pod ports: the Service's targetPort resolved per backend pod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from kubediag.checks.base import NO_CLIENT, NotApplicable, check, needs_client
from kubediag.checks.selection import near_miss
from kubediag.labels import format_map, format_selector, labels_of, selector_matches
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.netpol import (
    EGRESS,
    INGRESS,
    NS_NAME_LABEL,
    Admission,
    AllowedPeer,
    Decision,
    Direction,
    Explanation,
    Peer,
    PolicySet,
    RuleRef,
    allow_policy,
    describe_rule,
    dns_label,
    egress_decision,
    explain_denial,
    ingress_admission,
    ingress_decision,
    ip_block_empty,
    ip_block_matches,
    isolating_policies,
    policy_manifest,
    resolve_port,
    rules_of,
    service_port_rules,
    spec_json,
    stable_labels,
    to_yaml,
)
from kubediag.objects import (
    Container,
    ContainerPort,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    Pod,
    PodMeta,
    PodSpec,
)
from kubediag.remedy import IDENTITY_LABELS, is_placement_label, placement_keys, without_placement
from kubediag.snapshot import Snapshot, name_of, ns_of
from kubediag.workloads import is_ready, is_terminal, pod_ip, selection

NEEDS = [Kind.SERVICE, Kind.POD, Kind.NETWORKPOLICY]
DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_PORT = 53
MAX_LISTED = 5


# ---- what is judged: ready backends, their pod ports, the client ----------------------------------------
@dataclass(frozen=True)
class Target:
    """One Service port and the pod port it reaches on each ready backend that declares it."""

    service_port: int
    port_name: str
    protocol: str
    target: int | str
    backends: tuple[tuple[Pod, int], ...]

    @property
    def label(self) -> str:
        return f"port {self.service_port}" + (f" ({self.port_name})" if self.port_name else "")

    @property
    def pod_ports(self) -> list[int]:
        return sorted({pp for _, pp in self.backends})

    def pod_port_text(self, ports: Sequence[int] | None = None) -> str:
        return ",".join(str(p) for p in sorted(set(ports or self.pod_ports))) + f"/{self.protocol}"

    def fix_ports(self, pods: Sequence[tuple[Pod, int]]) -> list[tuple[int | str, str]]:
        numbers = sorted({pp for _, pp in pods})
        if len(numbers) > 1 and isinstance(self.target, str):
            return [(self.target, self.protocol)]  # one name, several numbers: the named port says it once
        return [(n, self.protocol) for n in numbers]


def _backends(snap: Snapshot) -> tuple[Pod, ...]:
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service has no backend pods")
    if not snap.selector:
        raise NotApplicable("the Service has no selector: its backends are not pods kubediag can judge")
    ready = selection(snap).ready
    if not ready:
        raise NotApplicable("no selected pod is ready, so no traffic reaches a backend yet")
    return ready


def _targets(snap: Snapshot, backends: tuple[Pod, ...]) -> list[Target]:
    out: list[Target] = []
    for sp in snap.ports:
        proto, port, raw = sp.protocol, sp.port, sp.target_port
        target: int | str = raw if raw is not None and raw not in ("", 0) else port
        number = resolve_port(None, target, proto)  # a number is every backend's pod port; a name is looked up
        if number is not None:
            resolved = tuple((b, number) for b in backends)
        else:
            resolved = tuple((b, pp) for b in backends if (pp := resolve_port(b, target, proto)) is not None)
        if resolved:
            out.append(Target(port, sp.name, proto, target, resolved))
    if not out:
        raise NotApplicable("no ready backend declares the Service's target port (see the port checks)")
    return out


def _host_network(pod: Pod) -> bool:
    return pod.spec.host_network


def _client(snap: Snapshot) -> tuple[Pod, Peer]:
    ref = snap.client
    if ref is None:
        raise NotApplicable(NO_CLIENT)
    pod = snap.client_pod
    if pod is None:
        raise NotApplicable(
            f"the client pod {ref.namespace}/{ref.name} was not found, so its path cannot be judged; "
            "check the --from name"
        )
    if _host_network(pod):
        ip = pod.status.host_ip or pod_ip(pod)
        return pod, Peer.external(ip, f"{ref.namespace}/{ref.name} (hostNetwork: seen as node IP {ip})")
    return pod, Peer.of_pod(pod, snap.data.namespace_labels(ns_of(pod)))


def _pod_client(snap: Snapshot) -> tuple[Pod, Peer]:
    pod, peer = _client(snap)
    if not peer.is_pod:
        raise NotApplicable(
            f"the client {peer.name} uses the node's network: NetworkPolicy egress rules do not apply to "
            "hostNetwork pods on most CNIs (the behaviour is undefined)"
        )
    return pod, peer


def _ns_labels_unknown(snap: Snapshot) -> str | None:
    m = snap.data.missing(Kind.NAMESPACE)
    if m is None:
        return None
    return f"namespace labels could not be read ({m.describe()}): only {NS_NAME_LABEL} is known"


def _names(pods: Sequence[Pod]) -> str:
    names = [name_of(p) for p in pods[:MAX_LISTED]]
    more = f" and {len(pods) - MAX_LISTED} more" if len(pods) > MAX_LISTED else ""
    return ", ".join(names) + more


def _some(pods: Sequence[Pod], total: int, noun: str = "ready backend") -> str:
    """'its only ready backend (web-1)', 'all 3 ready backends (...)', '1 of 3 ready backends (web-2)'."""
    if len(pods) == total == 1:
        return f"its only {noun} ({_names(pods)})"
    if len(pods) == total:
        return f"all {total} {noun}s ({_names(pods)})"
    return f"{len(pods)} of {total} {noun}s ({_names(pods)})"


def _policy(snap: Snapshot, namespace: str, name: str) -> NetworkPolicy | None:
    return next(
        (p for p in snap.data.networkpolicies_by_ns.get(namespace, ()) if p.metadata.name == name), None
    )


def _evidence(e: Explanation, expected: str) -> Evidence:
    return Evidence("NetworkPolicy", e.ref.namespace, e.ref.policy, e.ref.field, e.text, expected)


def _service_port_text(ref: RuleRef, service_port: int, pod_ports: str) -> str:
    return (
        f"policy/{ref.policy} allows port {service_port}, the Service port; policies match pod ports: "
        f"{pod_ports} ({ref.field})"
    )


def _corrected_policy(snap: Snapshot, refs: Sequence[RuleRef], pod_port: int) -> str | None:
    """The first policy of `refs` with the Service port replaced by the pod port, as YAML."""
    if not refs:
        return None
    ref = refs[0]
    pol = _policy(snap, ref.namespace, ref.policy)
    if pol is None:
        return None
    spec = spec_json(pol.spec)
    rules: list[dict[str, Any]] = spec.get(ref.direction, [])
    for r in refs:
        if r.policy != ref.policy or r.rule is None or r.port is None:
            continue
        ports: list[dict[str, Any]] = rules[r.rule].get("ports") or []
        if ports[r.port].get("endPort") is not None:  # a range: keep it, add the pod port
            ports.append({"port": pod_port, "protocol": ports[r.port].get("protocol") or "TCP"})
        else:
            ports[r.port]["port"] = pod_port
        rules[r.rule]["ports"] = ports
    spec[ref.direction] = rules
    return to_yaml(policy_manifest(pol, spec))


def _corrected_selector(snap: Snapshot, ref: RuleRef, match_labels: Mapping[str, str]) -> str | None:
    """The policy of `ref` with the podSelector of its peer element replaced by `match_labels`, as YAML."""
    pol = _policy(snap, ref.namespace, ref.policy)
    if pol is None or ref.rule is None or ref.peer is None:
        return None
    spec = spec_json(pol.spec)
    rules: list[dict[str, Any]] = spec.get(ref.direction, [])
    key = "from" if ref.direction == INGRESS else "to"
    elems: list[dict[str, Any]] = rules[ref.rule].get(key) or []
    elems[ref.peer]["podSelector"] = {"matchLabels": dict(match_labels)}
    rules[ref.rule][key] = elems
    spec[ref.direction] = rules
    return to_yaml(policy_manifest(pol, spec))


def _selected_by(snap: Snapshot, pod: Pod, policies: Sequence[str]) -> Evidence:
    return Evidence(
        "Pod",
        ns_of(pod),
        name_of(pod),
        "metadata.labels",
        format_map(without_placement(labels_of(pod))),
        f"selected by {', '.join(f'policy/{p}' for p in policies)}",
    )


def _newly_isolated(snap: Snapshot, manifest: Mapping[str, Any]) -> list[Pod]:
    """Read pods a new policy would isolate that no policy isolates today (they would lose all other traffic
    in that direction: a new policy is only additive for pods that are already isolated)."""
    ns = str(manifest["metadata"]["namespace"])
    spec = manifest["spec"]
    direction = EGRESS if "Egress" in spec.get("policyTypes", []) else INGRESS
    sel = spec.get("podSelector") or {}
    key = ("netpol-newly-isolated", ns, json.dumps(sel, sort_keys=True), direction)  # memoised per data
    memo = snap.data.memo
    if key not in memo:
        policies = _policy_set(snap, (ns,))
        memo[key] = tuple(  # the live pods `sel` selects (through the label index), in the namespace's order
            p
            for p in _live_pods(snap, ns, msgspec.convert(sel, LabelSelector))
            if not isolating_policies(policies, ns, labels_of(p), direction)
        )
    return list(memo[key])


def _additive(
    snap: Snapshot,
    manifest: dict[str, Any],
    isolating: Sequence[str],
    narrower: Sequence[Mapping[str, str]] = (),
) -> tuple[str, str]:
    """(how to apply it, YAML) for a suggested allow policy that never isolates pods that are open today: the
    policy as is, else with a narrower podSelector (identity labels only), else with the podSelector of the
    policy that already isolates the subject. Never the name of an existing policy (apply would replace it)."""
    ns = str(manifest["metadata"]["namespace"])
    taken = {name_of(p) for p in snap.data.networkpolicies_by_ns.get(ns, ())}
    base = str(manifest["metadata"]["name"])
    name = next(
        n for i in range(1, len(taken) + 2) if (n := base if i == 1 else f"{base[:60]}-{i}") not in taken
    )
    manifest = {**manifest, "metadata": {**manifest["metadata"], "name": name}}  # never replace a policy
    if ns not in _complete_namespaces(snap):  # only the client pod of that namespace was read
        return (
            f"policies are additive for pods that are already isolated; the pods of {ns} were not read, so check "
            f"that every pod it selects is isolated for {'egress' if 'Egress' in manifest['spec'].get('policyTypes', []) else 'ingress'} today; kubectl apply -f -",
            to_yaml(manifest),
        )
    if not _newly_isolated(snap, manifest):
        return "policies are additive; kubectl apply -f -", to_yaml(manifest)
    for labels in narrower:
        if labels and not placement_keys(labels):
            candidate = {
                **manifest,
                "spec": {**manifest["spec"], "podSelector": {"matchLabels": dict(labels)}},
            }
            if not _newly_isolated(snap, candidate):
                return "policies are additive; kubectl apply -f -", to_yaml(candidate)
    newly = _newly_isolated(snap, manifest)
    direction = EGRESS if "Egress" in manifest["spec"].get("policyTypes", []) else INGRESS
    for pol_name in isolating:  # its podSelector picks only pods it already isolates: a new policy with the
        pol = _policy(snap, ns, pol_name)  # same podSelector adds allowances and isolates nothing new
        if pol is None:
            continue
        candidate = {
            **manifest,
            "spec": {**manifest["spec"], "podSelector": msgspec.to_builtins(pol.spec.pod_selector)},
        }
        if not _newly_isolated(snap, candidate):
            return (
                f"policies are additive; it selects the pods policy/{pol_name} selects, because a podSelector of "
                f"{format_map(manifest['spec'].get('podSelector', {}).get('matchLabels') or {})} would also isolate "
                f"{_names(newly)}, which no policy isolates today; kubectl apply -f -",
                to_yaml(candidate),
            )
    return (
        f"kubectl apply -f -; CAUTION: it also isolates {_names(newly)} for {direction}, which no policy isolates "
        "today: narrow its podSelector to the pods that are already isolated",
        to_yaml(manifest),
    )


def _peer_labels(client_pod: Pod) -> tuple[dict[str, str], str]:
    """Labels for a podSelector that picks the client's workload, and a command when it has none."""
    labels = stable_labels(labels_of(client_pod))
    if labels:
        return labels, ""
    value = dns_label(name_of(client_pod))
    label = {"kubediag.io/client": value}
    cmd = f"kubectl -n {ns_of(client_pod)} label pod {name_of(client_pod)} kubediag.io/client={value}\n"
    return label, cmd


def _client_app(client_pod: Pod) -> str:
    labels = stable_labels(labels_of(client_pod))
    return next(iter(labels.values()), name_of(client_pod))


# ---- KD601 ingress --------------------------------------------------------------------------------------
@check(
    id="KD601",
    category=Category.NETWORK_POLICY_INGRESS_BLOCKED,
    stage=Stage.NETWORK_POLICY,
    title="NetworkPolicies let clients into the backends",
    needs=NEEDS,
    what="""
Evaluates the NetworkPolicies of the Service's namespace against its ready backend pods, on the pod port
(the resolved `targetPort`, never the Service port), with the networking/v1 semantics: a pod is isolated for
ingress by any policy that selects it whose effective `policyTypes` include Ingress (when `policyTypes` is
omitted: Ingress always, plus Egress when `egress` is non-empty); rules are OR-ed, a peer and a port within a
rule AND-ed; `podSelector` alone means the policy's namespace; `namespaceSelector` and `podSelector` in one
`from` element are AND-ed; `ipBlock` is a CIDR minus `except`; named ports resolve on the backend pod.

With `--from NS/POD` it judges that client's path to every ready backend (critical when blocked for all,
warning for some). Without a client it asks whether the backends admit *any existing* pod, namespace or
external range on the pod port: critical when none is admitted (deny-all, an egress-only policy without
`policyTypes`, a rule on the Service port instead of the pod port, peers that match nothing that exists);
otherwise an info note lists who may reach the Service, as selectors and as the pods and namespaces that match
today. Namespace labels come from the Namespace objects; when those cannot be read only the
`kubernetes.io/metadata.name` label is known and a verdict that depends on other labels is a warning.""",
    why="""
Once one policy selects a pod for ingress, every connection not admitted by some rule is dropped. Clients see
timeouts (packets are dropped, not refused) although the Service, its endpoints and the pods look healthy.
A policy written for port 80 (the Service port) never matches: policies see traffic after the Service's
DNAT, on the pod port. An egress-only policy without `policyTypes` is defaulted to [Ingress, Egress] by the API
server and silently denies all ingress.""",
    example="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 80}]          # the Service port; the pods listen on 8080""",
    fix="""
Admit the client on the pod port with a policy selecting the backends (policies are additive):

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend-to-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}        # the Service's selector
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}   # the client's namespace
    ports: [{port: 8080, protocol: TCP}]        # the pod port (targetPort), not the Service port
```

Add `policyTypes: [Egress]` to egress-only policies. Run with `--from NS/POD` for the exact policy for one
client.""",
)
def ingress_allowed(snap: Snapshot) -> Iterator[Finding]:
    backends = _backends(snap)
    targets = _targets(snap, backends)
    if snap.client is not None:
        client_pod, src = _client(snap)
        yield from _ingress_for_client(snap, targets, client_pod, src)
    else:
        yield from _ingress_for_anyone(snap, targets)


def _not_isolated_note(snap: Snapshot) -> Iterator[Finding]:
    others = snap.data.networkpolicies_by_ns.get(snap.namespace, ())
    if others:
        yield ingress_allowed.finding(
            Severity.INFO,
            f"no NetworkPolicy isolates the backends of {snap.namespace}/{snap.name} for ingress "
            f"({len(others)} {'policy' if len(others) == 1 else 'policies'} in {snap.namespace} "
            f"{'selects' if len(others) == 1 else 'select'} other pods or only egress): every client "
            "may reach them",
            "Nothing to change. A NetworkPolicy that selects these pods would isolate them: then only its "
            "rules admit traffic.",
            category=Category.NETWORK_POLICY_REACHABILITY,
        )


def _ingress_for_client(
    snap: Snapshot, targets: list[Target], client_pod: Pod, src: Peer
) -> Iterator[Finding]:
    policies = _policies(snap)
    svc = f"{snap.namespace}/{snap.name}"
    any_isolated = False
    for t in targets:
        decisions = [(b, pp, ingress_decision(policies, b, src, pp, t.protocol)) for b, pp in t.backends]
        any_isolated = any_isolated or any(d.isolated for _, _, d in decisions)
        blocked = [(b, pp, d) for b, pp, d in decisions if not d.allowed]
        if not blocked:
            deciding = sorted({s for _, _, d in decisions for s in d.deciding})
            if deciding:
                yield ingress_allowed.finding(
                    Severity.INFO,
                    f"client {src.name} may reach Service {svc} {t.label} (pod port {t.pod_port_text()}) on "
                    f"{_some([b for b, _, _ in decisions], len(decisions))}: allowed by {', '.join(deciding)}",
                    "Nothing to change; these rules admit the client (kubectl -n "
                    f"{snap.namespace} get networkpolicy -o yaml to read them).",
                    category=Category.NETWORK_POLICY_REACHABILITY,
                )
            continue
        b0, pp0, d0 = blocked[0]
        sev = Severity.CRITICAL if len(blocked) == len(decisions) else Severity.WARNING
        expl, sp_rules, unknown, uncertain = _denial(snap, INGRESS, policies, b0, src, b0, pp0, t, d0)
        if uncertain:
            sev = Severity.WARNING
        pods = [b for b, _, _ in blocked]
        parts = [
            f"client {src.name} cannot reach Service {svc} {t.label} (pod port {pp0}/{t.protocol}): ingress is "
            f"blocked on {_some(pods, len(decisions))} by "
            f"{', '.join(d0.deciding)}"
        ]
        parts += [_service_port_text(r, t.service_port, t.pod_port_text([pp0])) for r in sp_rules]
        sp_keys = {(r.policy, r.rule) for r in sp_rules}
        parts += [f"{e.ref}: {e.text}" for e in expl if (e.ref.policy, e.ref.rule) not in sp_keys][:3]
        if uncertain and unknown is not None:
            parts.append(
                f"{unknown}; if namespace {src.namespace} carries the labels the namespaceSelector wants, the "
                "client is admitted"
            )
        expected = f"a rule admitting {src.name} on {pp0}/{t.protocol}"
        evidence = [_evidence(e, expected) for e in expl[:8]]
        evidence += _service_port_evidence(sp_rules, t.service_port, pp0)
        evidence.append(_selected_by(snap, b0, d0.isolating))
        if uncertain and src.namespace is not None:
            evidence.append(
                Evidence(
                    "Namespace",
                    None,
                    src.namespace,
                    "metadata.labels",
                    "unknown (namespaces not readable)",
                    "labels matching the rule's namespaceSelector",
                )
            )
        corrected = _corrected_policy(snap, sp_rules, pp0)
        if corrected:
            remediation = (
                f"Match the pod port {pp0}, not the Service port {t.service_port}: apply the corrected "
                f"policy/{sp_rules[0].policy} (kubectl apply -f -):\n{corrected}"
            )
        else:
            remediation = _ingress_fix(snap, t, blocked, client_pod, src)
        yield ingress_allowed.finding(sev, "; ".join(parts), remediation, evidence)
    if not any_isolated:
        yield from _not_isolated_note(snap)


def _ingress_fix(
    snap: Snapshot, t: Target, blocked: Sequence[tuple[Pod, int, Decision]], client_pod: Pod, src: Peer
) -> str:
    ports = t.fix_ports([(b, pp) for b, pp, _ in blocked])
    name = f"allow-{_client_app(client_pod)}-to-{snap.name}"
    if not src.is_pod:  # hostNetwork client: it arrives with its node's IP
        manifest = allow_policy(
            name=dns_label(name),
            namespace=snap.namespace,
            direction=INGRESS,
            subject=snap.selector,
            peer_pods=None,
            peer_namespace=None,
            ports=ports,
            ip_block=f"{src.ip}/{128 if ':' in str(src.ip) else 32}",
        )
        how, text = _additive(snap, manifest, blocked[0][2].isolating)
        return (
            f"The client uses the host network and arrives from its node's IP {src.ip}: admit that address "
            f"({how}; podSelector rules never match it):\n{text}"
        )
    labels, cmd = _peer_labels(client_pod)
    manifest = allow_policy(
        name=dns_label(name),
        namespace=snap.namespace,
        direction=INGRESS,
        subject=snap.selector,
        peer_pods=labels,
        peer_namespace=ns_of(client_pod),
        ports=ports,
    )
    how, text = _additive(snap, manifest, blocked[0][2].isolating)
    return (
        f"{cmd}Admit {src.name} on pod port {t.pod_port_text([pp for _, pp, _ in blocked])} with this policy "
        f"({how}):\n{text}"
    )


# ---- KD601 without a client: who may reach the backends at all -----------------------------------------
@dataclass(frozen=True)
class Reach:
    """What one admitting `from` element means today."""

    text: str
    exists: bool  # something that exists (or cannot be ruled out) is admitted
    near: str = ""  # a pod that nearly matches a podSelector that matches nothing
    fixed: Mapping[str, str] | None = None  # the matchLabels that would match that pod


def _complete_namespaces(snap: Snapshot) -> frozenset[str]:
    """Namespaces whose pods were all read (svc mode reads the Service's namespace and only the client pod);
    memoised per data."""
    client_ns = snap.client.namespace if snap.client is not None else None
    key = ("netpol-complete-namespaces", snap.namespace, client_ns)
    memo = snap.data.memo
    if key not in memo:
        out = {snap.namespace} | set(snap.data.pods_by_ns)
        if client_ns is not None and client_ns != snap.namespace:
            out.discard(client_ns)
        memo[key] = frozenset(out)
    return memo[key]  # type: ignore[no-any-return]


def _known_namespaces(snap: Snapshot) -> list[str]:
    names = {snap.namespace} | set(snap.data.pods_by_ns) | set(snap.data.namespaces_by_name)
    return sorted(n for n in names if n)


def _policies(snap: Snapshot) -> tuple[NetworkPolicy, ...]:
    """The policies that can decide this Service's paths: the backends' namespace, the client's, and
    kube-system's (DNS). Policies apply only in their own namespace, so no other one can matter.
    A PolicySet, memoised per data: its isolation lookups are shared by every Service of those namespaces."""
    namespaces = tuple(
        ns
        for ns in dict.fromkeys([snap.namespace, snap.client.namespace if snap.client else "", "kube-system"])
        if ns
    )
    return _policy_set(snap, namespaces)


def _policy_set(snap: Snapshot, namespaces: tuple[str, ...]) -> PolicySet:
    key = ("netpol-policy-set", namespaces)
    memo = snap.data.memo
    if key not in memo:
        by_ns = snap.data.networkpolicies_by_ns
        memo[key] = PolicySet(p for ns in namespaces for p in by_ns.get(ns, ()))
    return memo[key]  # type: ignore[no-any-return]


def _live_pods(snap: Snapshot, namespace: str, selector: LabelSelector | None) -> tuple[Pod, ...]:
    """Pods of `namespace` that are not terminal and match `selector` (None: all); memoised per data."""
    key = ("netpol-live-pods", namespace, _selector_key(selector))
    memo = snap.data.memo
    if key not in memo:
        memo[key] = _match_live_pods(snap, namespace, selector)
    return memo[key]  # type: ignore[no-any-return]


def _selector_key(selector: LabelSelector | None) -> str:
    """A memo key for a selector: its JSON with sorted keys."""
    return json.dumps(None if selector is None else msgspec.to_builtins(selector), sort_keys=True)


def _match_live_pods(snap: Snapshot, namespace: str, selector: LabelSelector | None) -> tuple[Pod, ...]:
    match_labels = selector.match_labels if selector is not None else None
    if match_labels:  # narrow through the label index, then apply the whole selector
        candidates = snap.data.pods_matching(namespace, match_labels)
    else:
        candidates = snap.data.pods_by_ns.get(namespace, ())
    return tuple(
        p
        for p in candidates
        if not is_terminal(p) and (selector is None or selector_matches(selector, labels_of(p)))
    )


def _matching_namespaces(snap: Snapshot, ns_sel: LabelSelector, unseen: str | None) -> list[str]:
    """The known namespaces (plus `unseen`, a name that may exist unseen) whose labels match `ns_sel`, sorted;
    memoised per data (the known namespaces differ only by the Service's namespace)."""
    key = ("netpol-ns-match", _selector_key(ns_sel), snap.namespace, unseen)
    memo = snap.data.memo
    if key not in memo:
        candidates = set(_known_namespaces(snap))
        if unseen:
            candidates.add(unseen)
        memo[key] = tuple(
            n for n in sorted(candidates) if selector_matches(ns_sel, snap.data.namespace_labels(n))
        )
    return list(memo[key])


def _today(pods: Sequence[Pod]) -> str:
    return f"{len(pods)} today: {_names(pods)}" if pods else "none exist today"


def _near_miss(
    snap: Snapshot, namespace: str, selector: LabelSelector | None
) -> tuple[str, Mapping[str, str] | None]:
    if selector is None or not selector.match_labels or selector.match_expressions:
        return "", None
    match_labels = selector.match_labels
    for p in _live_pods(snap, namespace, None):
        nm = near_miss(match_labels, labels_of(p))
        if nm is not None:
            return f"pod {namespace}/{name_of(p)} nearly matches: {'; '.join(nm[0])}", nm[1]
    return "", None


def _resolve(snap: Snapshot, ap: AllowedPeer) -> Reach:
    """What `ap` admits today; memoised per data. It depends on the element (held by the data, so its id is
    stable while the memo lives), where it is, and the namespaces whose pods were read, which differ only by
    the Service's namespace and the client's."""
    client_ns = snap.client.namespace if snap.client is not None else None
    key = ("netpol-reach", ap.rule, id(ap.element), snap.namespace, client_ns)
    memo = snap.data.memo
    if key not in memo:
        memo[key] = (_resolve_uncached(snap, ap), ap.element)  # the element too: keeps its id taken
    return memo[key][0]  # type: ignore[no-any-return]


def _resolve_uncached(snap: Snapshot, ap: AllowedPeer) -> Reach:
    kind = ap.kind
    if kind == "any":
        return Reach("every source (the rule has no from)", True)
    if kind == "none":
        return Reach(f"nothing ({ap.rule.field} sets no selector)", False)
    if kind == "ipblock":
        block = ap.ip_block or IPBlock()
        if ip_block_empty(block):
            return Reach(f"{ap.describe()} (empty: except covers the cidr)", False)
        return Reach(f"{ap.describe()} (addresses outside the pod network; pod IPs only on some CNIs)", True)
    pod_sel = ap.pod_selector
    pod_words = (
        "every pod"
        if pod_sel is None or format_selector(pod_sel) == "<all>"
        else (f"pods {format_selector(pod_sel)}")
    )
    complete = _complete_namespaces(snap)
    if kind == "pods":
        ns = ap.rule.namespace
        pods = _live_pods(snap, ns, pod_sel)
        if not pods and ns not in complete:
            return Reach(f"{pod_words} in {ns} (pods not read)", True)
        near, fixed = ("", None) if pods else _near_miss(snap, ns, pod_sel)
        return Reach(f"{pod_words} in {ns} ({_today(pods)})", bool(pods), near, fixed)
    ns_sel = ap.namespace_selector or LabelSelector()
    words = (
        f"{pod_words} in every namespace"
        if format_selector(ns_sel) == "<all>"
        else (f"{pod_words} in namespaces {format_selector(ns_sel)}")
    )
    unknown = _ns_labels_unknown(snap)
    only_name = set(ns_sel.match_labels) <= {NS_NAME_LABEL} and not ns_sel.match_expressions
    if unknown is not None and not only_name:
        return Reach(f"{words} ({unknown})", True)
    named = ns_sel.match_labels.get(NS_NAME_LABEL) if unknown is not None else None
    matched = _matching_namespaces(snap, ns_sel, str(named) if named else None)
    if not matched:
        return Reach(f"{words} (no namespace matches today)", False)
    shown: list[str] = []
    exists = False
    for n in matched:
        if n in complete:
            pods = _live_pods(snap, n, pod_sel)
            shown.append(f"{n}: {len(pods)} pods" if pod_sel is not None else n)
            exists = exists or bool(pods)
        else:
            shown.append(f"{n}: pods not read" if pod_sel is not None else n)
            exists = True
    more = f" and {len(shown) - MAX_LISTED} more" if len(shown) > MAX_LISTED else ""
    return Reach(f"{words} (today: {', '.join(shown[:MAX_LISTED])}{more})", exists)


def _ingress_for_anyone(snap: Snapshot, targets: list[Target]) -> Iterator[Finding]:
    policies = _policies(snap)
    any_isolated = False
    for t in targets:
        admissions = [(b, pp, ingress_admission(policies, b, pp, t.protocol)) for b, pp in t.backends]
        isolated = [(b, pp, a) for b, pp, a in admissions if a.isolated]
        if not isolated:
            continue
        any_isolated = True
        reach: dict[RuleRef, Reach] = {}
        dead: list[tuple[Pod, int]] = []
        admits: dict[int, bool] = {}  # per Admission (backends of one workload share theirs): admits someone
        for b, pp, adm in isolated:
            alive = admits.get(id(adm))
            if alive is None:
                for ap in adm.allowed:
                    if ap.rule not in reach:  # one resolution per rule (pure: the same for every backend)
                        reach[ap.rule] = _resolve(snap, ap)
                alive = admits[id(adm)] = any(reach[ap.rule].exists for ap in adm.allowed)
            if not alive:
                dead.append((b, pp))
        isolating = sorted({p for _, _, a in isolated for p in a.isolating})
        open_pods = [b for b, _, a in admissions if not a.isolated]
        if not dead:
            yield ingress_allowed.finding(
                Severity.INFO,
                _who_may_reach(snap, t, isolated, reach, isolating, open_pods),
                _reach_hint(snap, t),
                category=Category.NETWORK_POLICY_REACHABILITY,
            )
            continue
        yield _nobody_admitted(snap, t, admissions, dead, reach)
    if not any_isolated:
        yield from _not_isolated_note(snap)


def _reach_hint(snap: Snapshot, t: Target) -> str:
    return (
        f"To admit another client, add a NetworkPolicy selecting the backends ({format_map(snap.selector)}) with a "
        f"from rule for it on pod port {t.pod_port_text()}; run with --from NS/POD to judge one client's whole path."
    )


def _who_may_reach(
    snap: Snapshot,
    t: Target,
    isolated: Sequence[tuple[Pod, int, Admission]],
    reach: Mapping[RuleRef, Reach],
    isolating: Sequence[str],
    open_pods: Sequence[Pod],
) -> str:
    """The info note: who is admitted today, by which rule, and rules that look like mistakes."""
    allowed = [f"{r.text} [{ref}]" for ref, r in sorted(reach.items()) if r.exists]
    text = (
        f"Service {snap.namespace}/{snap.name} {t.label} (pod port {t.pod_port_text()}): allowed from: "
        f"{'; '.join(allowed)}; blocked for others by {', '.join(f'policy/{p}' for p in isolating)}"
    )
    if open_pods:
        text += f"; backends not isolated (they admit everyone): {_names(open_pods)}"
    nobody = [f"{r.text} [{ref}]" for ref, r in sorted(reach.items()) if not r.exists]
    if nobody:
        text += "; rules that admit nobody today: " + "; ".join(nobody[:3])
    b0, pp0, _ = isolated[0]
    for r in service_port_rules(INGRESS, _policies(snap), b0, b0, t.service_port, pp0, t.protocol):
        text += "; " + _service_port_text(r, t.service_port, t.pod_port_text([pp0]))
    for name in sorted({n for _, _, a in isolated for n in a.silent_policies}):
        text += (
            f"; policy/{name} lists only egress rules and no policyTypes, so it also denies all ingress "
            "(add policyTypes: [Egress])"
        )
    return text


def _nobody_admitted(
    snap: Snapshot,
    t: Target,
    admissions: Sequence[tuple[Pod, int, Admission]],
    dead: Sequence[tuple[Pod, int]],
    reach: Mapping[RuleRef, Reach],
) -> Finding:
    policies = _policies(snap)
    svc = f"{snap.namespace}/{snap.name}"
    b0, pp0 = dead[0]
    adm = next(a for b, _, a in admissions if b is b0)
    pp_text = t.pod_port_text(sorted({pp for _, pp in dead}))
    every = len(dead) == len(admissions)
    sev = Severity.CRITICAL if every else Severity.WARNING
    policies_text = ", ".join(f"policy/{p}" for p in adm.isolating)
    if every:
        head = (
            f"no existing client can reach Service {svc} {t.label} (pod port {pp_text}): ingress to "
            f"{_some([b for b, _ in dead], len(dead))} is isolated by {policies_text} and no rule admits an "
            "existing pod, "
            f"namespace or address on {pp_text}"
        )
    else:
        head = (
            f"{len(dead)} of {len(admissions)} ready backends of Service {svc} ({_names([b for b, _ in dead])}) "
            f"admit no existing client on {t.label} (pod port {pp_text}), isolated by {policies_text}: requests "
            "load-balanced to them fail"
        )
    parts = [head]
    evidence: list[Evidence] = []
    expected = f"a rule admitting an existing client on {pp0}/{t.protocol}"
    for ref in adm.empty_policies:
        if ref.policy in adm.silent_policies:
            why = (
                f"policy/{ref.policy} lists only egress rules and no policyTypes, so Kubernetes defaults "
                "policyTypes to [Ingress, Egress]: it isolates ingress with no ingress rule (a silent deny-all)"
            )
            evidence.append(
                Evidence(
                    "NetworkPolicy",
                    ref.namespace,
                    ref.policy,
                    "spec.policyTypes",
                    "<unset>",
                    "[Egress] (the policy only means to restrict egress)",
                )
            )
        else:
            why = f"policy/{ref.policy} has no ingress rules: it denies all ingress to the pods it selects"
            evidence.append(
                Evidence(
                    "NetworkPolicy", ref.namespace, ref.policy, "spec.ingress", "[] (no rules)", expected
                )
            )
        parts.append(why)
    sp_rules = service_port_rules(INGRESS, policies, b0, b0, t.service_port, pp0, t.protocol)
    for r in sp_rules:
        parts.append(_service_port_text(r, t.service_port, t.pod_port_text([pp0])))
        evidence.append(
            Evidence(
                "NetworkPolicy",
                r.namespace,
                r.policy,
                r.field,
                f"port {t.service_port} (the Service port)",
                f"port {pp0} (the pod port)",
            )
        )
    sp_keys = {(r.policy, r.rule) for r in sp_rules}
    for ref, ports in adm.other_ports:
        if (ref.policy, ref.rule) in sp_keys:
            continue
        parts.append(f"{ref} admits {ports} only, not {pp0}/{t.protocol}")
        evidence.append(
            Evidence(
                "NetworkPolicy", ref.namespace, ref.policy, f"{ref.field}.ports", ports, f"{pp0}/{t.protocol}"
            )
        )
    for ap in adm.allowed:
        res = reach.get(ap.rule)
        if res is None or res.exists:
            continue
        parts.append(f"{ap.rule} admits {res.text}" + (f"; {res.near}" if res.near else ""))
        evidence.append(
            Evidence(
                "NetworkPolicy",
                ap.rule.namespace,
                ap.rule.policy,
                ap.rule.field,
                res.text,
                "a peer that matches existing pods",
            )
        )
    evidence.append(_selected_by(snap, b0, adm.isolating))
    return ingress_allowed.finding(
        sev, "; ".join(parts), _anyone_fix(snap, t, adm, sp_rules, pp0, dead, reach), evidence
    )


def _labelled_pods(snap: Snapshot, namespace: str) -> tuple[tuple[str, str], ...]:
    """(name, stable labels as text) of the live pods of `namespace` that have stable labels; memoised per data."""
    key = ("netpol-labelled-pods", namespace)
    memo = snap.data.memo
    if key not in memo:
        # per label set without the placement and instance labels that `stable_labels` drops (identity labels
        # kept): pods of a workload share theirs, whatever their pod-template-hash or node
        texts: dict[frozenset[tuple[str, str]], str] = {}
        kept: dict[str, bool] = {}  # label key -> whether `stable_labels` may read it
        out: list[tuple[str, str]] = []
        for p in _live_pods(snap, namespace, None):
            labels = labels_of(p)
            pairs = []
            for k, v in labels.items():
                keep = kept.get(k)
                if keep is None:
                    keep = kept[k] = k in IDENTITY_LABELS or not is_placement_label(k)
                if keep:
                    pairs.append((k, v))
            try:
                items: frozenset[tuple[str, str]] | None = frozenset(pairs)
            except TypeError:  # unhashable label values (never from the API)
                items = None
            text = texts.get(items) if items is not None else None
            if text is None:
                stable = stable_labels(labels)
                text = format_map(stable) if stable else ""
                if items is not None:
                    texts[items] = text
            if text:
                out.append((name_of(p), text))
        memo[key] = tuple(out)
    return memo[key]  # type: ignore[no-any-return]


def _anyone_fix(
    snap: Snapshot,
    t: Target,
    adm: Admission,
    sp_rules: Sequence[RuleRef],
    pp0: int,
    dead: Sequence[tuple[Pod, int]],
    reach: Mapping[RuleRef, Reach],
) -> str:
    if adm.silent_policies:
        pol = _policy(snap, snap.namespace, adm.silent_policies[0])
        if pol is not None:
            spec = {**spec_json(pol.spec), "policyTypes": ["Egress"]}
            return (
                f"Declare policy/{pol.metadata.name} egress-only so it stops isolating ingress "
                f"(kubectl apply -f -):\n{to_yaml(policy_manifest(pol, spec))}"
            )
    corrected = _corrected_policy(snap, sp_rules, pp0)
    if corrected:
        return (
            f"Match the pod port {pp0}, not the Service port {t.service_port}: apply the corrected "
            f"policy/{sp_rules[0].policy} (kubectl apply -f -):\n{corrected}"
        )
    for ref, r in sorted(reach.items()):
        if (
            r.fixed
            and not r.exists
            and ref.rule is not None
            and ref.peer is not None
            and not placement_keys(r.fixed)
        ):
            fixed = _corrected_selector(snap, ref, r.fixed)
            if fixed:
                return (
                    f"Select the pods that exist: {r.near}. Apply the corrected policy/{ref.policy} "
                    f"(kubectl apply -f -), or relabel the pods:\n{fixed}"
                )
    manifest = allow_policy(
        name=dns_label(f"allow-clients-to-{snap.name}"),
        namespace=snap.namespace,
        direction=INGRESS,
        subject=snap.selector,
        peer_pods={"app": "CLIENT"},
        peer_namespace=snap.namespace,
        ports=t.fix_ports(dead),
    )
    backends = {name_of(p) for p in snap.selected_pods}
    seen = sorted({text for name, text in _labelled_pods(snap, snap.namespace) if name not in backends})
    hint = f" (pods in {snap.namespace} today: {'; '.join(seen[:3])})" if seen else ""
    how, text = _additive(snap, manifest, adm.isolating)
    return (
        f"Admit the intended clients on pod port {t.pod_port_text(sorted({pp for _, pp in dead}))}: replace "
        f"app: CLIENT with the client pods' labels{hint} (add a namespaceSelector for another namespace), or run "
        f"with --from NS/POD for the exact policy ({how}):\n{text}"
    )


# ---- KD602 egress ---------------------------------------------------------------------------------------
@check(
    id="KD602",
    applies=needs_client,
    category=Category.NETWORK_POLICY_EGRESS_BLOCKED,
    stage=Stage.NETWORK_POLICY,
    title="NetworkPolicies let the client send to the backends",
    needs=NEEDS,
    independent=True,
    what="""
With `--from NS/POD`: evaluates the NetworkPolicies of the client's namespace that isolate the client for
egress (`policyTypes` containing Egress, or omitted with a non-empty `egress`) against every ready backend pod
of the Service on the pod port (the resolved `targetPort`; named ports in a policy resolve on the destination
pod). `to` peers match the backend's labels and its namespace's labels; a `podSelector` alone means the
client's own namespace. Not applicable without a client.""",
    why="""
A connection needs both sides: the destination's ingress and the source's egress. A client whose namespace
runs a default-deny egress policy (often with only a DNS exception) can resolve the Service name but every
connection to it times out, although the Service and its backends are healthy.""",
    example="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns-only, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]""",
    fix="""
Allow the client's egress to the backends on the pod port:

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend-to-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}   # the client
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: web}}    # the Service's selector
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}
    ports: [{port: 8080, protocol: TCP}]        # the pod port
```""",
)
def egress_allowed(snap: Snapshot) -> Iterator[Finding]:
    client_pod, src = _pod_client(snap)
    targets = _targets(snap, _backends(snap))
    policies = _policies(snap)
    svc = f"{snap.namespace}/{snap.name}"
    svc_ns_labels = snap.data.namespace_labels(snap.namespace)
    for t in targets:
        decisions = [
            (b, pp, egress_decision(policies, client_pod, Peer.of_pod(b, svc_ns_labels), pp, t.protocol))
            for b, pp in t.backends
        ]
        blocked = [(b, pp, d) for b, pp, d in decisions if not d.allowed]
        if not blocked:
            deciding = sorted({s for _, _, d in decisions for s in d.deciding})
            if deciding:
                yield egress_allowed.finding(
                    Severity.INFO,
                    f"client {src.name} may send to Service {svc} {t.label} (pod port {t.pod_port_text()}): "
                    f"egress allowed by {', '.join(deciding)}",
                    "Nothing to change; these rules allow the client's egress (kubectl -n "
                    f"{ns_of(client_pod)} get networkpolicy -o yaml to read them).",
                    category=Category.NETWORK_POLICY_REACHABILITY,
                )
            continue
        yield _egress_blocked(snap, t, decisions, blocked, client_pod, src)


def _egress_allowances(snap: Snapshot, client_pod: Pod, isolating: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in isolating:
        pol = _policy(snap, ns_of(client_pod), name)
        if pol is None:
            continue
        rules = rules_of(pol, EGRESS)
        out += [
            f"policy/{name} spec.egress[{i}] allows {describe_rule(pol, EGRESS, i)}"
            for i in range(len(rules))
        ]
    return out


def _cluster_ip_rules(snap: Snapshot, client_pod: Pod, isolating: Sequence[str]) -> list[str]:
    """Egress ipBlocks that contain the Service's ClusterIP: most CNIs judge egress after DNAT, on pod IPs."""
    cluster_ip = snap.spec.cluster_ip
    if not cluster_ip or cluster_ip == "None":
        return []
    out: list[str] = []
    for name in isolating:
        pol = _policy(snap, ns_of(client_pod), name)
        for i, rule in enumerate(pol.spec.egress if pol is not None else []):
            for j, elem in enumerate(rule.to):
                block = elem.ip_block
                if block is not None and ip_block_matches(block, cluster_ip):
                    out.append(
                        f"policy/{name} spec.egress[{i}].to[{j}] allows the ClusterIP {cluster_ip}, but most CNIs "
                        "judge egress after the Service's DNAT, on the backend pod IPs"
                    )
    return out


def _egress_blocked(
    snap: Snapshot,
    t: Target,
    decisions: Sequence[tuple[Pod, int, Decision]],
    blocked: Sequence[tuple[Pod, int, Decision]],
    client_pod: Pod,
    src: Peer,
) -> Finding:
    policies = _policies(snap)
    svc = f"{snap.namespace}/{snap.name}"
    b0, pp0, d0 = blocked[0]
    dst0 = Peer.of_pod(b0, snap.data.namespace_labels(snap.namespace))
    sev = Severity.CRITICAL if len(blocked) == len(decisions) else Severity.WARNING
    expl, sp_rules, unknown, uncertain = _denial(snap, EGRESS, policies, client_pod, dst0, b0, pp0, t, d0)
    if uncertain:
        sev = Severity.WARNING
    parts = [
        f"client {src.name} may not send to Service {svc} {t.label} (pod port {pp0}/{t.protocol}): its egress is "
        f"isolated by {', '.join(d0.deciding)} and no rule allows traffic to "
        f"{_some([b for b, _, _ in blocked], len(decisions))}"
    ]
    allowances = _egress_allowances(snap, client_pod, d0.isolating)
    parts.append(
        "its egress allows only: " + "; ".join(allowances[:4]) if allowances else "its egress allows nothing"
    )
    parts += [_service_port_text(r, t.service_port, t.pod_port_text([pp0])) for r in sp_rules]
    parts += _cluster_ip_rules(snap, client_pod, d0.isolating)
    sp_keys = {(r.policy, r.rule) for r in sp_rules}
    parts += [f"{e.ref}: {e.text}" for e in expl if (e.ref.policy, e.ref.rule) not in sp_keys][:3]
    if uncertain and unknown is not None:
        parts.append(
            f"{unknown}; if namespace {snap.namespace} carries the labels the rule wants, it is allowed"
        )
    expected = f"a rule allowing {dst0.name} on {pp0}/{t.protocol}"
    evidence = [_evidence(e, expected) for e in expl[:8]]
    evidence += _service_port_evidence(sp_rules, t.service_port, pp0)
    evidence.append(_selected_by(snap, client_pod, d0.isolating))
    corrected = _corrected_policy(snap, sp_rules, pp0)
    if corrected:
        remediation = (
            f"Match the pod port {pp0}, not the Service port {t.service_port}: apply the corrected "
            f"policy/{sp_rules[0].policy} (kubectl apply -f -):\n{corrected}"
        )
    else:
        labels, cmd = _peer_labels(client_pod)
        manifest = allow_policy(
            name=dns_label(f"allow-{_client_app(client_pod)}-to-{snap.name}"),
            namespace=ns_of(client_pod),
            direction=EGRESS,
            subject=labels,
            peer_pods=dict(snap.selector),
            peer_namespace=snap.namespace,
            ports=t.fix_ports([(b, pp) for b, pp, _ in blocked]),
        )
        how, text = _additive(snap, manifest, d0.isolating)
        remediation = (
            f"{cmd}Allow {src.name}'s egress to the backends of {svc} on pod port "
            f"{t.pod_port_text([pp for _, pp, _ in blocked])} ({how}):\n{text}"
        )
    return egress_allowed.finding(sev, "; ".join(parts), remediation, evidence)


# ---- KD603 DNS ------------------------------------------------------------------------------------------
def _dns_pods(snap: Snapshot) -> tuple[list[Pod], bool]:
    """The cluster DNS pods (ready ones first), or a stand-in with CoreDNS's usual ports when not read."""
    found = [
        p
        for p in snap.data.pods_by_ns.get(DNS_NAMESPACE, ())
        if all(labels_of(p).get(k) == v for k, v in DNS_LABELS.items()) and not is_terminal(p)
    ]
    ready = [p for p in found if is_ready(p)]
    if ready or found:
        return ready or found, False
    stand_in = Pod(
        metadata=PodMeta(name="kube-dns pods", namespace=DNS_NAMESPACE, labels=dict(DNS_LABELS)),
        spec=PodSpec(
            containers=(
                Container(
                    name="coredns",
                    ports=(
                        ContainerPort(name="dns", container_port=DNS_PORT, protocol="UDP"),
                        ContainerPort(name="dns-tcp", container_port=DNS_PORT, protocol="TCP"),
                        ContainerPort(name="metrics", container_port=9153, protocol="TCP"),
                    ),
                ),
            )
        ),
    )
    return [stand_in], True


@check(
    id="KD603",
    applies=needs_client,
    category=Category.NETWORK_POLICY_DNS_BLOCKED,
    stage=Stage.NETWORK_POLICY,
    title="NetworkPolicies let the client resolve names",
    needs=NEEDS,
    independent=True,
    what="""
With `--from NS/POD`: a client isolated for egress needs a rule to the cluster DNS pods (`k8s-app: kube-dns`
in `kube-system`) on port 53 over UDP and TCP. Evaluates the client's egress policies against the DNS pods
(read when present, otherwise assumed with CoreDNS's labels and named ports `dns`/`dns-tcp`), and the
ingress policies of kube-system when they were read. UDP blocked is critical; TCP alone blocked is a
warning (large answers are retried over TCP). Not applicable without a client, for hostNetwork clients, for
`dnsPolicy: Default`, and for `dnsPolicy: None` unless the cluster DNS address is among its nameservers
(KD604 judges the client's resolver).""",
    why="""
A default-deny egress policy also blocks DNS: the client cannot resolve `web.shop.svc.cluster.local` and
fails with `could not resolve host` / `Temporary failure in name resolution` (after a 5 s timeout per try),
which looks like a missing Service, not like a policy.""",
    example="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]""",
    fix="""
Allow DNS next to the deny-all (policies are additive):

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
```""",
)
def dns_allowed(snap: Snapshot) -> Iterator[Finding]:
    client_pod, src = _pod_client(snap)
    from kubediag.dependents import client_dns, uses_cluster_dns

    dns_policy = client_dns(client_pod).effective
    if dns_policy == "Default":
        raise NotApplicable("the client has dnsPolicy Default: it does not use the cluster DNS pods (see KD604)")
    if dns_policy == "None" and not uses_cluster_dns(snap.data, client_pod):
        raise NotApplicable(
            "the client has dnsPolicy None without the cluster DNS address among its nameservers, or it could "
            "not be confirmed: its resolver is judged by KD604"
        )
    dns_pods, assumed = _dns_pods(snap)
    policies = _policies(snap)
    ks_labels = snap.data.namespace_labels(DNS_NAMESPACE)
    blocked: dict[str, list[tuple[Pod, Decision, Decision]]] = {}
    allowed_by: set[str] = set()
    for proto in ("UDP", "TCP"):
        for d in dns_pods:
            eg = egress_decision(policies, client_pod, Peer.of_pod(d, ks_labels), DNS_PORT, proto)
            ing = ingress_decision(policies, d, src, DNS_PORT, proto)
            if eg.allowed and ing.allowed:
                allowed_by.update(eg.deciding + ing.deciding)
            else:
                blocked.setdefault(proto, []).append((d, eg, ing))
    if not blocked:
        if allowed_by:
            yield dns_allowed.finding(
                Severity.INFO,
                f"client {src.name} may resolve names: DNS to {DNS_NAMESPACE} pods k8s-app=kube-dns on "
                f"{DNS_PORT}/UDP and {DNS_PORT}/TCP is allowed by {', '.join(sorted(allowed_by))}",
                "Nothing to change; these rules allow the client's DNS traffic.",
                category=Category.NETWORK_POLICY_REACHABILITY,
            )
        return
    yield _dns_blocked(snap, client_pod, src, dns_pods, assumed, blocked)


def _dns_blocked(
    snap: Snapshot,
    client_pod: Pod,
    src: Peer,
    dns_pods: Sequence[Pod],
    assumed: bool,
    blocked: Mapping[str, Sequence[tuple[Pod, Decision, Decision]]],
) -> Finding:
    policies = _policies(snap)
    udp = blocked.get("UDP", [])
    sev = Severity.CRITICAL if len(udp) == len(dns_pods) else Severity.WARNING
    protos = [p for p in ("UDP", "TCP") if p in blocked]
    proto0 = protos[0]
    d0, eg0, ing0 = blocked[proto0][0]
    where = (
        "the assumed kube-dns pods (kube-system pods were not read)"
        if assumed
        else (_some([d for d, _, _ in blocked[proto0]], len(dns_pods), "DNS pod"))
    )
    ports = " and ".join(f"{DNS_PORT}/{p}" for p in protos)
    sides: list[str] = []
    expl: list[Explanation] = []
    ks_labels = snap.data.namespace_labels(DNS_NAMESPACE)
    if not eg0.allowed:
        sides.append(f"the client's egress is isolated by {', '.join(eg0.deciding)}")
        expl += explain_denial(EGRESS, policies, client_pod, Peer.of_pod(d0, ks_labels), d0, DNS_PORT, proto0)
    if not ing0.allowed:
        sides.append(f"the DNS pods' ingress is isolated by {', '.join(ing0.deciding)} in {DNS_NAMESPACE}")
        expl += explain_denial(INGRESS, policies, d0, src, d0, DNS_PORT, proto0)
    unknown = _ns_labels_unknown(snap)
    uncertain = unknown is not None and any(e.namespace_only for e in expl)
    if uncertain:
        sev = Severity.WARNING
    what = "cannot resolve names" if "UDP" in blocked else "can query DNS over UDP only"
    head = f"client {src.name} {what}: DNS on {ports} to {where} is blocked: {' and '.join(sides)}"
    parts = [head]
    if protos == ["TCP"]:
        parts.append("UDP works but truncated (large) answers are retried over TCP and fail")
    parts += [f"{e.ref}: {e.text}" for e in expl[:3]]
    if uncertain and unknown is not None:
        parts.append(f"{unknown}; if {DNS_NAMESPACE} carries the labels the rule wants, DNS is allowed")
    evidence = [_evidence(e, f"a rule allowing DNS on {DNS_PORT}/{proto0}") for e in expl[:8]]
    evidence.append(
        Evidence(
            "Pod",
            ns_of(client_pod),
            name_of(client_pod),
            "egress",
            f"blocked on {ports} to {DNS_NAMESPACE} k8s-app=kube-dns",
            f"{DNS_PORT}/UDP and {DNS_PORT}/TCP allowed",
        )
    )
    fixes: list[str] = []
    dns_ports: list[tuple[int | str, str]] = [(DNS_PORT, "UDP"), (DNS_PORT, "TCP")]
    if any(not eg.allowed for p in protos for _, eg, _ in blocked[p]):
        manifest = allow_policy(
            name="allow-dns",
            namespace=ns_of(client_pod),
            direction=EGRESS,
            subject={},
            peer_pods=dict(DNS_LABELS),
            peer_namespace=DNS_NAMESPACE,
            ports=dns_ports,
        )
        client_labels = stable_labels(labels_of(client_pod))
        how, text = _additive(snap, manifest, eg0.isolating, [client_labels])
        narrow = (
            f"narrow podSelector to {format_map(client_labels)} to admit only this client; "
            if client_labels and how.startswith("policies are additive") and "podSelector: {}" in text
            else ""
        )
        fixes.append(f"Allow DNS egress for the pods of {ns_of(client_pod)} ({narrow}{how}):\n{text}")
    if any(not ing.allowed for p in protos for _, _, ing in blocked[p]):
        manifest = allow_policy(
            name=dns_label(f"allow-dns-from-{ns_of(client_pod)}"),
            namespace=DNS_NAMESPACE,
            direction=INGRESS,
            subject=dict(DNS_LABELS),
            peer_pods=None,
            peer_namespace=ns_of(client_pod),
            ports=dns_ports,
        )
        fixes.append(f"Admit DNS queries from {ns_of(client_pod)} at the DNS pods:\n{to_yaml(manifest)}")
    return dns_allowed.finding(sev, "; ".join(parts), "\n".join(fixes), evidence)


def _service_port_evidence(
    rules: Sequence[RuleRef], service_port: object, pod_port: object
) -> list[Evidence]:
    """Evidence for rules written on the Service port: policies match pod ports."""
    return [
        Evidence(
            "NetworkPolicy",
            r.namespace,
            r.policy,
            r.field,
            f"port {service_port} (the Service port)",
            f"port {pod_port} (the pod port)",
        )
        for r in rules
    ]


def _denial(
    snap: Snapshot,
    direction: Direction,
    policies: Sequence[NetworkPolicy],
    subject: Pod,
    other: Peer,
    dst_pod: Pod,
    pod_port: int,
    t: Target,
    decision: Decision,
) -> tuple[tuple[Explanation, ...], list[RuleRef], str | None, bool]:
    """Why `decision` denied `subject` (the isolated pod) towards/from `other`: the rule explanations, the
    rules whose peer matched but were written on the Service port, and whether only the (unreadable)
    namespace labels decided."""
    expl = explain_denial(direction, policies, subject, other, dst_pod, pod_port, t.protocol)
    matched_rules = {(r.policy, r.rule) for r in decision.peer_only}
    sp_rules = [
        r
        for r in service_port_rules(
            direction, policies, subject, dst_pod, t.service_port, pod_port, t.protocol
        )
        if (r.policy, r.rule) in matched_rules
    ]
    unknown = _ns_labels_unknown(snap)
    uncertain = unknown is not None and any(e.namespace_only for e in expl)
    return expl, sp_rules, unknown, uncertain
