"""Consumers: do the things that call the Service (Ingresses, StatefulSet DNS, env-var discovery) use it right?

These checks are independent: an Ingress that names the wrong port is broken whatever the state of the pods.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import msgspec

from kubediag.checks.base import NotApplicable, check
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Container, Ingress, IngressBackend, Pod, ServiceBackendPort
from kubediag.snapshot import Snapshot, name_of
from kubediag.text import closest, env_prefix, is_close
from kubediag.workloads import Owner, is_terminal, owner_of, template_owner

# ---- KD901 -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    ingress: Ingress
    where: str  # JSON path of the backend, e.g. spec.rules[0].http.paths[1].backend
    route: str  # host/path, for messages
    service: str
    port: ServiceBackendPort

    @property
    def pointer(self) -> str:
        """The JSON pointer of backend.service.port, for `kubectl patch --type=json`."""
        path = re.sub(r"\[(\d+)\]", r"/\1", self.where).replace(".", "/")
        return f"/{path}/service/port"

    @property
    def port_text(self) -> str:
        if self.port.number is not None:
            return f"port {self.port.number}"
        return f"port name {self.port.name!r}"


def ingress_backends(ing: Ingress) -> Iterator[Backend]:
    spec = ing.spec

    def make(where: str, route: str, backend: IngressBackend) -> Backend | None:
        svc = backend.service
        if not svc.name:
            return None  # a resource backend
        return Backend(ing, where, route, svc.name, svc.port)

    if b := make("spec.defaultBackend", "default backend", spec.default_backend):
        yield b
    for i, rule in enumerate(spec.rules):
        for j, path in enumerate(rule.http.paths):
            route = f"{rule.host or '*'}{path.path or '/'}"
            if b := make(f"spec.rules[{i}].http.paths[{j}].backend", route, path.backend):
                yield b


def _ports_text(snap: Snapshot) -> str:
    return (
        ", ".join(
            f"{p.port}/{p.protocol}" + (f" ({p.name})" if p.name else "")
            for p in snap.ports
        )
        or "none"
    )


def _port_problem(snap: Snapshot, b: Backend) -> tuple[str, int | str | None] | None:
    """(what is wrong, the Service port to use instead) or None when the backend port is valid."""
    ports = snap.ports
    numbers = {p.port: p for p in ports}
    names = {p.name: p for p in ports if p.name}
    only: int | None = ports[0].port if len(ports) == 1 else None
    if b.port.number is not None:
        n = b.port.number
        if n in numbers:
            return None
        owner = next((p for p in ports if p.target_port == n), None)
        if owner is not None:
            return (
                f"{n} is the targetPort of Service port {owner.port}: an Ingress backend names the "
                "Service port, not the container port",
                owner.port,
            )
        return f"the Service has no port {n}", only
    name = b.port.name
    if not name or name in names:
        return None
    near = closest(name, names)
    if near:
        return f"the Service has no port named {name!r} (did you mean {near[0]!r}?)", near[0]
    return f"the Service has no port named {name!r}", only


_SUFFIXES = ("-svc", "-service")


def likely_meant(written: str, name: str) -> bool:
    """`written` looks like a slip for `name`: a couple of edits, case or separators, or a `-svc` suffix."""
    if written == name:
        return False
    if re.sub(r"\d+", "#", written) == re.sub(r"\d+", "#", name):
        return False  # web-1 / web-2, api-v1 / api-v2: siblings by design, not a slip
    if is_close(written, name):
        return True
    return any(written in (name + s, s.lstrip("-") + "-" + name) for s in _SUFFIXES) or any(
        name == written + s for s in _SUFFIXES
    )


def _namespace_services_read(snap: Snapshot) -> bool:
    """True when the namespace's Services were listed (audit mode), not only the target fetched."""
    return any(name_of(s) != snap.name for s in snap.data.services_by_ns.get(snap.namespace, ()))


_BackendEntry = tuple[int, str, Backend]  # (position in the namespace's Ingresses' backends, Ingress name, backend)


def _ingress_backend_index(
    snap: Snapshot,
) -> tuple[Mapping[str, list[_BackendEntry]], list[_BackendEntry]] | None:
    """The namespace's Ingress backends (Ingresses by name, in order) per Service name, and those naming no
    Service that was read; None when the namespace has no Ingress. Built once per namespace."""
    key = ("ingress_backend_index", snap.namespace)
    if key not in snap.data.memo:
        ingresses = sorted(snap.data.ingresses_by_ns.get(snap.namespace, ()), key=name_of)
        by_service: dict[str, list[_BackendEntry]] = defaultdict(list)
        dangling: list[_BackendEntry] = []
        n = 0
        for ing in ingresses:
            iname = name_of(ing)
            for b in ingress_backends(ing):
                entry = (n, iname, b)
                n += 1
                by_service[b.service].append(entry)
                if (snap.namespace, b.service) not in snap.data.services_by_key:
                    dangling.append(entry)
        snap.data.memo[key] = (dict(by_service), dangling) if ingresses else None
    return snap.data.memo[key]  # type: ignore[no-any-return]


@check(
    id="KD901",
    category=Category.INGRESS_BACKEND_INVALID,
    stage=Stage.CONSUMERS,
    title="Ingresses name this Service with a port it has",
    needs=[Kind.SERVICE, Kind.INGRESS],
    independent=True,
    what="""
For every Ingress in the namespace, finds the backends (`defaultBackend` and every rule path) that name this
Service and checks that `port.number` is one of the Service's `spec.ports[].port` (a frequent slip is the
targetPort, e.g. 8080 instead of 80) or that `port.name` is one of its port names. Also flags backends that
name a Service close to this one (`web-svc` vs `web`) that does not exist, as a likely typo.""",
    why="""
The Ingress controller resolves the backend to a Service port; a port the Service does not have has no
endpoints, so that route answers 503 (ingress-nginx logs `service ... does not have any active Endpoint`)
while the Service itself works. A misspelt Service name gives the same 503 or the default backend's 404.""",
    example="""
kind: Ingress
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 8080}}}   # Service web: port 80 -> targetPort 8080""",
    fix="""
Name the Service port in the Ingress:
`kubectl -n shop patch ingress web --type=json -p '[{"op":"replace","path":"/spec/rules/0/http/paths/0/backend/service/port","value":{"number":80}}]'`,
and the Service by its exact name.""",
)
def ingress_backend_invalid(snap: Snapshot) -> Iterator[Finding]:
    index = _ingress_backend_index(snap)
    if index is None:
        raise NotApplicable(f"no Ingress in namespace {snap.namespace}")
    ns = snap.namespace
    listed = _namespace_services_read(snap)
    by_service, dangling = index
    relevant = sorted(
        [*by_service.get(snap.name, ()), *(e for e in dangling if likely_meant(e[2].service, snap.name))],
        key=lambda e: e[0],
    )
    for _, iname, b in relevant:
        if b.service == snap.name:
            if snap.svc_type == "ExternalName" and not snap.ports:
                continue  # the controller dials the external name on the Ingress's port
            problem = _port_problem(snap, b)
            if problem is None:
                continue
            what, better = problem
            message = (
                f"Ingress {ns}/{iname} sends {b.route} to Service {snap.name} {b.port_text}, but {what} "
                f"(Service ports: {_ports_text(snap)}): that route answers 503"
            )
            if better is not None:
                value = {"number": better} if isinstance(better, int) else {"name": better}
                body = json.dumps(
                    [{"op": "replace", "path": b.pointer, "value": value}], separators=(",", ":")
                )
                fix = f"kubectl -n {ns} patch ingress {iname} --type=json -p '{body}'"
            else:
                fix = f"Set {b.where}.service.port of Ingress {iname} to one of the Service ports: {_ports_text(snap)}"
            yield ingress_backend_invalid.finding(
                Severity.CRITICAL,
                message,
                fix,
                [
                    Evidence(
                        "Ingress",
                        ns,
                        iname,
                        f"{b.where}.service.port",
                        json.dumps(msgspec.to_builtins(b.port), separators=(",", ":")),
                        f"a port of Service {snap.name}: {_ports_text(snap)}",
                    ),
                    Evidence("Service", ns, snap.name, "spec.ports", _ports_text(snap), b.port_text),
                ],
            )
        elif (ns, b.service) not in snap.data.services_by_key and likely_meant(b.service, snap.name):
            if listed:
                known = f"no Service {b.service!r} exists in {ns}"
            else:
                known = f"kubediag read only Service {snap.name}; if Service {b.service!r} exists, ignore this"
            body = json.dumps(
                [{"op": "replace", "path": b.pointer.rsplit("/", 1)[0] + "/name", "value": snap.name}],
                separators=(",", ":"),
            )
            yield ingress_backend_invalid.finding(
                Severity.WARNING,
                f"Ingress {ns}/{iname} sends {b.route} to Service {b.service!r}; did you mean {snap.name!r}? "
                f"({known})",
                f"kubectl -n {ns} patch ingress {iname} --type=json -p '{body}'",
                [
                    Evidence(
                        "Ingress",
                        ns,
                        iname,
                        f"{b.where}.service.name",
                        b.service,
                        snap.name,
                    )
                ],
            )


# ---- KD902 -----------------------------------------------------------------------------------------------


@check(
    id="KD902",
    category=Category.STATEFULSET_SERVICE_MISMATCH,
    stage=Stage.CONSUMERS,
    title="A headless Service governs the StatefulSet pods it selects",
    needs=[Kind.SERVICE, Kind.POD],
    independent=True,
    what="""
For a headless Service (`clusterIP: None`) that selects pods of a StatefulSet, compares the pods'
`spec.subdomain` (set by the StatefulSet controller from `spec.serviceName`) with the Service's name. For a
Service that is not headless, finds StatefulSet pods whose `spec.subdomain` names it: the StatefulSet's
governing Service is an ordinary ClusterIP Service, so its pods get no per-pod DNS names.""",
    why="""
Per-pod DNS names (`web-0.<service>.<namespace>.svc.cluster.local`) are published only when the pod's
`hostname` is set and its `subdomain` equals the name of a headless Service selecting it. With
`serviceName: db` and a headless Service `db-hl`, `db-0.db-hl` is NXDOMAIN and peers that find each other by
those names (databases, Kafka, ZooKeeper, etcd) never form a cluster.""",
    example="""
kind: StatefulSet
metadata: {name: db}
spec: {serviceName: db, selector: {matchLabels: {app: db}}}
---
kind: Service
metadata: {name: db-hl}
spec: {clusterIP: None, selector: {app: db}}   # the pods' subdomain is 'db', not 'db-hl'""",
    fix="""
Give the headless Service the StatefulSet's `serviceName` (create a headless Service named `db` with the same
selector). `spec.serviceName` of a StatefulSet is immutable: to change it, recreate the StatefulSet
(`kubectl delete statefulset db --cascade=orphan`, then apply it with the new serviceName).""",
)
def statefulset_service_mismatch(snap: Snapshot) -> Iterator[Finding]:
    if not snap.headless:
        yield from _governing_not_headless(snap)
        return
    if not snap.selector:
        raise NotApplicable("the Service has no selector")
    groups: dict[Owner, list[Pod]] = defaultdict(list)
    for p in snap.selected_pods:
        o = owner_of(p)
        if o is not None and o.kind == "StatefulSet":
            groups[o].append(p)
    if not groups:
        raise NotApplicable("no selected pod belongs to a StatefulSet")
    ns = snap.namespace
    for owner, pods in sorted(groups.items()):
        pods.sort(key=name_of)
        sub = pods[0].spec.subdomain
        if sub == snap.name:
            continue
        sample = name_of(pods[0])
        governing = snap.data.services_by_key.get((ns, sub)) if sub else None
        recreate = (
            f"kubectl -n {ns} get statefulset {owner.name} -o yaml > sts.yaml   # set spec.serviceName: "
            f"{snap.name}, drop metadata.uid and resourceVersion, then:\nkubectl -n {ns} delete statefulset {owner.name} --cascade=orphan "
            "&& kubectl apply -f sts.yaml"
        )
        if governing is not None and governing.spec.cluster_ip == "None":
            severity = Severity.INFO
            tail = f"they have DNS names under headless Service {sub} ({sample}.{sub}.{ns}.svc.cluster.local)"
            fix = f"Address the pods as {sample}.{sub}.{ns}.svc.cluster.local; to use {snap.name} instead:\n{recreate}"
        elif sub:
            severity = Severity.WARNING
            tail = f"they have DNS hostnames only under a headless Service named {sub!r}" + (
                "" if governing is None else f", and Service {sub} is not headless"
            )
            fix = (
                f"kubectl -n {ns} expose service {snap.name} --name={sub} --cluster-ip=None   # a headless "
                f"Service named after the StatefulSet's serviceName, same selector and ports; or:\n{recreate}"
            )
            if governing is not None:
                fix = f"Make Service {sub} headless (clusterIP: None; recreate it, clusterIP is immutable), or:\n{recreate}"
        else:
            severity = Severity.WARNING
            tail = "the StatefulSet has no serviceName, so its pods have no DNS hostnames at all"
            fix = recreate
        yield statefulset_service_mismatch.finding(
            severity,
            f"Headless Service {ns}/{snap.name} selects the pods of statefulset/{owner.name}, whose serviceName "
            f"(pod spec.subdomain) is {sub!r}: {sample}.{snap.name}.{ns}.svc.cluster.local does not resolve; {tail}",
            fix,
            [
                Evidence("StatefulSet", ns, owner.name, "spec.serviceName", sub or "<empty>", snap.name),
                Evidence("Pod", ns, sample, "spec.subdomain", sub or "<empty>", snap.name),
            ],
        )


def _governing_not_headless(snap: Snapshot) -> Iterator[Finding]:
    """StatefulSets whose serviceName names this Service, which is not headless: their pods (spec.subdomain =
    serviceName) get no per-pod DNS names; the Service's own name and virtual IP work."""
    key = ("kd902-subdomains", snap.namespace)
    if key not in snap.data.memo:  # StatefulSet pods by subdomain, once per namespace (audit)
        index: dict[str, list[Pod]] = defaultdict(list)
        for p in snap.namespace_pods:
            sub = p.spec.subdomain
            if sub and (o := owner_of(p)) is not None and o.kind == "StatefulSet":
                index[sub].append(p)
        snap.data.memo[key] = index
    groups: dict[Owner, list[Pod]] = defaultdict(list)
    for p in snap.data.memo[key].get(snap.name, ()):
        o = owner_of(p)
        if o is not None:
            groups[o].append(p)
    if not groups:
        raise NotApplicable("not a headless Service, and no StatefulSet names it as its serviceName")
    ns = snap.namespace
    kind = "an ExternalName" if snap.svc_type == "ExternalName" else f"a {snap.svc_type} (not headless)"
    headless = f"{snap.name}-headless"
    taken = (ns, headless) in snap.data.services_by_key
    for owner, pods in sorted(groups.items()):
        pods.sort(key=name_of)
        sample = name_of(pods[0])
        hostname = pods[0].spec.hostname or sample
        yield statefulset_service_mismatch.finding(
            Severity.WARNING,
            f"statefulset/{owner.name} names Service {ns}/{snap.name} as its serviceName, but it is {kind} "
            f"Service: the pods get no per-pod DNS names ({hostname}.{snap.name}.{ns}.svc.cluster.local does "
            f"not resolve; a StatefulSet's governing Service must have clusterIP: None). The Service's own "
            f"name {snap.dns_name} still works",
            (
                f"Add a headless Service for the pod names and point the StatefulSet at it (serviceName is "
                f"immutable: recreate the StatefulSet without deleting its pods, then roll them so they get "
                f"the new subdomain; clients then use {hostname}.{headless}.{ns}.svc.cluster.local):\n"
                f"kubectl -n {ns} expose service {snap.name} --name={headless} --cluster-ip=None"
                + ("   # pick another name: it exists" if taken else "")
                + f"\nkubectl -n {ns} get statefulset {owner.name} -o yaml > sts.yaml   # set spec.serviceName: "
                f"{headless}, drop metadata.uid and resourceVersion\n"
                f"kubectl -n {ns} delete statefulset {owner.name} --cascade=orphan && kubectl apply -f sts.yaml "
                f"&& kubectl -n {ns} rollout restart statefulset/{owner.name}\n"
                f"(Making Service {snap.name} itself headless also works, but changes what its clients get: no "
                "virtual IP, and no port-to-targetPort translation.)"
            ),
            [
                Evidence("Service", ns, snap.name, "spec.clusterIP", snap.spec.cluster_ip or snap.svc_type, "None (headless)"),
                Evidence("StatefulSet", ns, owner.name, "spec.serviceName", snap.name, "a headless Service"),
                Evidence("Pod", ns, sample, "spec.subdomain", snap.name, "the name of a headless Service"),
            ],
        )


# ---- KD903 -----------------------------------------------------------------------------------------------


def _references(container: Container, pattern: re.Pattern[str]) -> list[str]:
    """Discovery variables a container reads in env values, command or args (not ones it defines itself)."""
    own = {e.name for e in container.env}
    texts = [e.value for e in container.env if e.value]
    texts += [*container.command, *container.args]
    found = sorted({m.group(0) for t in texts for m in pattern.finditer(t)})
    return [v for v in found if v not in own]


def _discovery_readers(snap: Snapshot) -> tuple[Pod, ...]:
    """Pods of the namespace that mention any `*_SERVICE_*` variable, sorted by name; memoised per
    namespace so an audit does not rescan every pod for every Service."""
    key = ("kd903-readers", snap.namespace)
    memo = snap.data.memo
    if key not in memo:

        def mentions(pod: Pod) -> bool:
            spec = pod.spec
            for containers in (spec.init_containers, spec.containers):
                for c in containers:
                    for e in c.env:
                        if e.value and "_SERVICE_" in e.value:
                            return True
                    for texts in (c.command, c.args):
                        for t in texts:
                            if "_SERVICE_" in t:
                                return True
            return False

        memo[key] = tuple(sorted((p for p in snap.namespace_pods if mentions(p)), key=name_of))
    readers: tuple[Pod, ...] = memo[key]
    return readers


def _started_at(pod: Pod, container: str) -> tuple[str, str]:
    """(time, field): when the container last started (env vars are computed at each container start),
    else when the pod was created."""
    status = pod.status
    for key, statuses in (
        ("containerStatuses", status.container_statuses),
        ("initContainerStatuses", status.init_container_statuses),
    ):
        for cs in statuses:
            if cs.name == container:
                running = cs.state.running
                started = running.started_at if running is not None else None
                if started:
                    return started, f"status.{key}[{container}].state.running.startedAt"
    return pod.metadata.creation_timestamp, "metadata.creationTimestamp"


@check(
    id="KD903",
    category=Category.ENV_DISCOVERY_ORDER,
    stage=Stage.CONSUMERS,
    title="Pods that read the Service's environment variables started after it",
    needs=[Kind.SERVICE, Kind.POD],
    independent=True,
    what="""
Finds pods in the namespace whose containers reference `<SERVICE>_SERVICE_HOST` or `<SERVICE>_SERVICE_PORT`
(e.g. `WEB_API_SERVICE_HOST` for Service `web-api`) in env values, command or args, and whose container
started (or, without status, whose pod was created) before the Service was created, or that set
`enableServiceLinks: false`.""",
    why="""
The kubelet injects a Service's discovery variables only when a container starts, and only for Services that
exist at that moment (and never with `enableServiceLinks: false`). A client started before the Service sees
the variable unset: `$(WEB_SERVICE_HOST)` stays literal, or the app falls back to a default and connects to
the wrong place, until the pod restarts. DNS names do not have this ordering problem.""",
    example="""
# deployment/frontend started at 10:00 with
env: [{name: API_URL, value: "http://$(API_SERVICE_HOST):$(API_SERVICE_PORT)"}]
# Service api created at 10:05: frontend's API_URL is the literal string""",
    fix="""
Restart the clients so the variables are injected (`kubectl -n shop rollout restart deployment/frontend`),
or better, use the DNS name (`http://api.shop.svc.cluster.local:80`), which does not depend on start order.""",
)
def env_discovery_order(snap: Snapshot) -> Iterator[Finding]:
    created = snap.service.metadata.creation_timestamp if snap.service is not None else ""
    if not created:
        raise NotApplicable("the Service has no creationTimestamp")
    if not _discovery_readers(snap):  # no pod of the namespace reads any discovery variable
        return
    prefix = env_prefix(snap.name)
    pattern = re.compile(rf"(?<![A-Z0-9_]){re.escape(prefix)}_SERVICE_(?:HOST|PORT)(?:_[A-Z0-9_]+)?\b")
    ns = snap.namespace
    stale: list[tuple[Pod, str, list[str], str, str]] = []  # pod, container, variables, why, field
    for pod in _discovery_readers(snap):
        if is_terminal(pod) or pod.metadata.deletion_timestamp:
            continue
        spec = pod.spec
        for c in [*spec.init_containers, *spec.containers]:
            refs = _references(c, pattern)
            if not refs:
                continue
            cname = c.name
            if spec.enable_service_links is False:
                stale.append((pod, cname, refs, "enableServiceLinks is false", "spec.enableServiceLinks"))
            else:
                started, field = _started_at(pod, cname)
                if started and started[:19] < created[:19]:
                    why = f"started {started} before the Service was created {created}"
                    stale.append((pod, cname, refs, why, field))
            break  # one container per pod is enough evidence
    if not stale:
        return
    by_owner: dict[str, list[tuple[Pod, str, list[str], str, str]]] = defaultdict(list)
    for item in stale:
        o = template_owner(item[0])
        by_owner[f"{o.kind.lower()}/{o.name}" if o else f"pod/{name_of(item[0])}"].append(item)
    for ref, items in sorted(by_owner.items()):
        pod, cname, refs, why, _ = items[0]
        restart = (
            f"kubectl -n {ns} rollout restart {ref}"
            if ref.split("/", 1)[0] in ("deployment", "statefulset", "daemonset")
            else f"kubectl -n {ns} delete pod {name_of(pod)}   # recreate it"
        )
        links_off = why.startswith("enableServiceLinks")
        yield env_discovery_order.finding(
            Severity.WARNING,
            (f"Pod {ns}/{name_of(pod)}" if ref.startswith("pod/") else f"{len(items)} pod(s) of {ref}")
            + f" {'reads' if ref.startswith('pod/') else 'read'} {', '.join(refs)} (container {cname}) but "
            + (
                "set enableServiceLinks: false, so the kubelet never injects them"
                if links_off
                else f"{why}: the variables are injected only at container start, so they are unset there"
            ),
            (
                f"Remove enableServiceLinks: false from {ref}, then {restart}"
                if links_off
                else f"{restart}   # or use the DNS name {snap.dns_name}"
            ),
            [
                Evidence(
                    "Pod",
                    ns,
                    name_of(p),
                    field,
                    w,
                    f"started after Service {snap.name} ({created}), with service links enabled",
                )
                for p, _, _, w, field in items[:5]
            ],
        )
