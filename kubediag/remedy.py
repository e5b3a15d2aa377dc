"""What a suggested fix may contain: the one place fix text gets its labels and ports from. Pure.

The rules (tested for every check by tests/test_remedy_safety.py):
- a suggested pod selector never uses placement or instance labels: labels the API server copies from the node
  (`topology.kubernetes.io/*`, `kubernetes.io/hostname`, ...) say where a pod runs, and controller labels
  (`pod-template-hash`, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`, ...) name one revision
  or one replica. Selectors pick identity labels (`app.kubernetes.io/*`, `app`, `component`, ...);
- the ports of a suggested Service are the ports clients dial, with where that number came from, never a
  silent default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubediag.model import Kind
from kubediag.objects import Container, ContainerPort, Deployment, Pod
from kubediag.snapshot import ClusterData, name_of, ns_of

# ---- labels ----------------------------------------------------------------------------------------------

# Set per pod instance or revision by controllers (never shared by every pod of a workload over time).
INSTANCE_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "job-name",
    }
)
# Node labels: the API server (PodTopologyLabels admission, 1.33+) copies topology labels from the node onto
# pods at binding; other node labels on a pod are copies too. They say where a pod runs, not what it is.
NODE_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
    }
)
PLACEMENT_PREFIXES = (
    "topology.kubernetes.io/",
    "topology.k8s.io/",
    "failure-domain.beta.kubernetes.io/",
    "node.kubernetes.io/",
    "node-role.kubernetes.io/",
    "batch.kubernetes.io/",
)
# Labels that name what a pod is, most specific workload identity first.
IDENTITY_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app",
    "k8s-app",
    "name",
    "component",
    "run",
    "io.kompose.service",
)


def is_placement_label(key: str) -> bool:
    """A node-copied (placement) or per-instance/revision label: never part of a suggested pod selector."""
    return key in INSTANCE_LABELS or key in NODE_LABELS or key.startswith(PLACEMENT_PREFIXES)


def without_placement(labels: Mapping[str, Any]) -> dict[str, str]:
    """The labels minus placement and instance labels (for evidence: those are noise)."""
    return {str(k): str(v) for k, v in sorted(labels.items()) if not is_placement_label(str(k))}


def safe_selector_labels(labels: Mapping[str, Any]) -> dict[str, str]:
    """Labels for a suggested selector that picks a pod's workload (not its node, revision or replica):
    its identity labels when it has any, else all its other labels ({} when nothing is left)."""
    ident = {k: str(labels[k]) for k in IDENTITY_LABELS if k in labels}
    return ident or without_placement(labels)


def placement_keys(selector: Mapping[str, Any] | None) -> list[str]:
    """Placement/instance label keys in a Service map selector or a metav1.LabelSelector."""
    if not selector:
        return []
    keys = [str(k) for k in selector if k not in ("matchLabels", "matchExpressions")]
    keys += [str(k) for k in (selector.get("matchLabels") or {})]
    keys += [str(e.get("key")) for e in selector.get("matchExpressions") or [] if isinstance(e, Mapping)]
    return sorted({k for k in keys if is_placement_label(k)})


# ---- ports for a Service that does not exist --------------------------------------------------------------


@dataclass(frozen=True)
class PortChoice:
    """The port a new Service should offer, the container port it targets, and where both came from."""

    port: int | None  # None: no evidence at all
    target: int | str | None
    source: str


def _env_values(pod: Pod) -> Iterable[tuple[str, str, Container]]:
    """(container name, env name=value text, container) for every literal env value and the command line."""
    spec = pod.spec
    for c in [*spec.init_containers, *spec.containers]:
        cname = c.name or "?"
        for e in c.env:
            if e.value:  # an empty or valueFrom value names no host
                yield cname, f"{e.name}={e.value}", c
        words = [*c.command, *c.args]
        if words:
            yield cname, " ".join(words), c


def host_pattern(name: str, namespace: str) -> str:
    """A regex for the DNS names clients use for Service `name` of `namespace` (short or qualified)."""
    ns = re.escape(namespace)
    return rf"(?<![\w.-]){re.escape(name)}(?:\.{ns}(?:\.svc(?:\.cluster\.local)?)?)?\.?(?![\w-])"


def dialled_ports(data: ClusterData, namespace: str, name: str) -> list[tuple[int, str]]:
    """(port, where) for every port a pod's env or command dials on Service `name`: `NAME:PORT` (URLs, host:port
    pairs), `nc NAME PORT`, `-h NAME -p PORT`, a `*_HOST=NAME` with a sibling `*_PORT=N`, `NAME_SERVICE_PORT=N`."""
    host = host_pattern(name, namespace)
    colon = re.compile(host + r":(\d{1,5})\b")
    spaced = re.compile(r"\b(?:nc|ncat|netcat|telnet)\b(?:\s+-\S+)*\s+" + host + r"\s+(\d{1,5})\b")
    flags = re.compile(r"-h\s*" + host + r".*?\s-p\s*(\d{1,5})\b")
    env_name = re.sub(r"[^A-Z0-9]", "_", name.upper())
    out: list[tuple[int, str]] = []
    qualified = re.compile(rf"{re.escape(name)}\.{re.escape(namespace)}\b")
    for pod in data.pods:
        # a pod of another namespace dials the Service by a qualified name, in an env value or its command
        if ns_of(pod) != namespace and not any(qualified.search(text) for _, text, _ in _env_values(pod)):
            continue
        where = f"pod {ns_of(pod)}/{name_of(pod)}"
        hosts: dict[str, str] = {}
        ports: dict[str, str] = {}
        for cname, text, c in _env_values(pod):
            for rx in (colon, spaced, flags):
                for m in rx.finditer(text):  # only host:port is shown (the text may carry credentials)
                    out.append((int(m.group(1)), f"{where} container {cname} dials {name}:{m.group(1)}"))
            for e in c.env:
                key, value = e.name, e.value
                if key == f"{env_name}_SERVICE_PORT" and value.isdigit():
                    out.append((int(value), f"{where} container {cname} sets {key}={value}"))
                if re.fullmatch(host, value):
                    hosts[re.sub(r"_?(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE)$", "", key)] = key
                if value.isdigit() and re.search(r"PORT$", key):
                    ports[re.sub(r"_?PORT$", "", key)] = f"{key}={value}"
        for prefix, key in hosts.items():
            if prefix in ports:
                value = ports[prefix].split("=", 1)[1]
                out.append((int(value), f"{where} sets {key}={name} and {ports[prefix]}"))
    return [(p, w) for p, w in out if 0 < p < 65536]


def ingress_ports(data: ClusterData, namespace: str, name: str) -> list[tuple[int | str, str]]:
    """(port number or name, where) of every Ingress backend in `namespace` that names Service `name`."""
    out: list[tuple[int | str, str]] = []
    for ing in data.ingresses_by_ns.get(namespace, ()):
        spec = ing.spec
        backends = [spec.default_backend] + [p.backend for r in spec.rules for p in r.http.paths]
        for b in backends:
            svc = b.service
            if svc.name != name:
                continue
            value: int | str = svc.port.number or svc.port.name
            if value:
                out.append((value, f"ingress/{name_of(ing)} routes to {name}:{value}"))
    return out


def template_ports(workload: Deployment | None) -> list[ContainerPort]:
    """Declared container ports of a workload's pod template."""
    if workload is None or workload.spec.template.spec is None:
        return []
    pod_spec = workload.spec.template.spec
    containers = [*pod_spec.containers, *(c for c in pod_spec.init_containers if c.restart_policy == "Always")]
    return [p for c in containers for p in c.ports]


def service_port_for(
    data: ClusterData, namespace: str, name: str, workload: Deployment | None = None, workload_ref: str = ""
) -> PortChoice:
    """The port a new Service `name` should offer: what clients dial (pod env/commands, Ingress backends), else
    the container port the workload declares (said so), else unknown. The target is the matching container
    port (by number, else by name, else the only one declared)."""
    declared = template_ports(workload)
    numbers = [p.container_port for p in declared if p.container_port]
    named = {p.name: p.container_port for p in declared if p.name and p.container_port}
    what = workload_ref or "the workload"

    def target_for(port: int | str) -> int | str | None:
        if isinstance(port, str):
            return port if port in named else None
        if port in numbers:
            return port
        return numbers[0] if len(set(numbers)) == 1 else None

    dials = dialled_ports(data, namespace, name)
    if dials:
        port, where = sorted(dials)[0] if len({p for p, _ in dials}) > 1 else dials[0]
        others = sorted({p for p, _ in dials} - {port})
        more = f" (clients also dial {', '.join(map(str, others))})" if others else ""
        return PortChoice(port, target_for(port), f"the port clients dial: {where}{more}")
    for value, where in ingress_ports(data, namespace, name):
        if isinstance(value, int):
            return PortChoice(value, target_for(value), f"the port an Ingress dials: {where}")
        if value in named:
            return PortChoice(named[value], value, f"the port an Ingress dials by name: {where}")
    if numbers:
        return PortChoice(
            numbers[0],
            numbers[0],
            f"no client names a port: {what} declares containerPort {numbers[0]}; use the port your clients "
            "dial if it differs",
        )
    return PortChoice(None, None, f"no client names a port and {what} declares no containerPort")


def expose_command(data: ClusterData, namespace: str, name: str, workload: Deployment, workload_ref: str) -> str:
    """`kubectl expose` for a missing Service, with the port clients dial and where it came from."""
    choice = service_port_for(data, namespace, name, workload, workload_ref)
    port = str(choice.port) if choice.port is not None else "<PORT>"
    target = f" --target-port={choice.target}" if choice.target is not None else ""
    return f"kubectl -n {namespace} expose {workload_ref} --name={name} --port={port}{target}   # port: {choice.source}"


def workload_named(data: ClusterData, namespace: str, name: str) -> tuple[Deployment, str] | None:
    """A Deployment named `name` in `namespace`, if Deployments were read (for exposing it)."""
    if data.missing(Kind.DEPLOYMENT) is not None:
        return None
    for d in data.deployments_by_ns.get(namespace, ()):
        if name_of(d) == name:
            return d, f"deployment/{name}"
    return None
