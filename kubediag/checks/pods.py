"""Pods: are the selected pods scheduled, pulled, configured, running, ready, alive and addressed?

Each pod is classified once by `workloads.pod_problem` (its earliest failing stage); each check here reports
the pods of its own category. Severity: when no selected pod is ready the Service has no endpoint that takes
traffic (critical); otherwise the Service is degraded (warning).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from kubediag.checks.base import NotApplicable, check
from kubediag.labels import format_map, labels_of
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Event, Node, Pod, PodSpec, Taint
from kubediag.snapshot import Snapshot, name_of
from kubediag.workloads import (
    PodProblem,
    event_message,
    find_container,
    format_taint,
    is_terminal,
    json_pointer,
    newest_event,
    node_ready,
    node_schedulable,
    node_selector_misses,
    pod_problem,
    pods_phrase,
    selection,
    serving_containers,
    template_owner,
    untolerated_taints,
    waiting_status,
)

MAX_EVIDENCE = 5


def quote(text: str, limit: int = 300) -> str:
    """An API message, whitespace collapsed, shortened, in quotes that it does not itself contain."""
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    mark = "'" if '"' in text and "'" not in text else '"'
    return mark + text + mark


@dataclass(frozen=True)
class Hit:
    pod: Pod
    problem: PodProblem


@dataclass(frozen=True)
class Scan:
    """The selected pods whose earliest problem is one category."""

    hits: tuple[Hit, ...]
    population: tuple[Pod, ...]  # every selected pod
    ready: int

    @property
    def total(self) -> int:
        return len(self.population)

    @property
    def pods(self) -> list[Pod]:
        return [h.pod for h in self.hits]

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if self.ready == 0 else Severity.WARNING

    @property
    def be(self) -> str:
        return "is" if len(self.hits) == 1 else "are"

    def tail(self) -> str:
        if self.ready == 0:
            return "; no selected pod is ready, so the Service has no endpoint that takes traffic"
        return f"; {self.ready} of {self.total} selected pods are ready and still serve"

    def main(self) -> Hit:
        """The hit whose (reason, detail) is the most common: the message describes that one."""
        counts = Counter((h.problem.reason, h.problem.detail) for h in self.hits)
        best = counts.most_common(1)[0][0]
        return next(h for h in self.hits if (h.problem.reason, h.problem.detail) == best)


def _problem(snap: Snapshot, pod: Pod) -> PodProblem | None:
    """pod_problem, classified once per pod and data (seven checks ask about the same pods)."""
    # one dict per data, keyed by id(pod): the data holds the pod, so its id is stable while the memo lives
    memo = snap.data.memo
    problems: dict[int, PodProblem | None] | None = memo.get("pod-problem")
    if problems is None:
        problems = memo["pod-problem"] = {}
    key = id(pod)
    if key in problems:
        return problems[key]
    found = problems[key] = pod_problem(pod)
    return found


def scan(snap: Snapshot, category: Category) -> Scan:
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service selects no pods")
    if not snap.selector:
        raise NotApplicable("the Service has no selector")
    pods = snap.selected_pods
    if not pods:
        raise NotApplicable("no pod is selected")
    hits, ready = _classified(snap)
    return Scan(hits.get(category, ()), tuple(pods), ready)


def _classified(snap: Snapshot) -> tuple[Mapping[Category, tuple[Hit, ...]], int]:
    """The selected pods' hits per category (by pod name) and how many are ready, once per Service (eight
    checks scan the same pods; each pod is classified once per data, `_problem`)."""
    key = "pod-scan"
    memo = snap.memo
    if key not in memo:
        sel = selection(snap)
        by: dict[Category, list[Hit]] = {}
        for p in sel.by_name:
            if (pr := _problem(snap, p)) is not None:
                by.setdefault(pr.category, []).append(Hit(p, pr))
        memo[key] = ({c: tuple(h) for c, h in by.items()}, len(sel.ready))
    return memo[key]  # type: ignore[no-any-return]


def pod_evidence(snap: Snapshot, hits: Sequence[Hit], expected: str) -> list[Evidence]:
    return [
        Evidence(
            "Pod",
            snap.namespace,
            name_of(h.pod),
            h.problem.field,
            f"{h.problem.reason}: {h.problem.detail}",
            expected,
        )
        for h in hits[:MAX_EVIDENCE]
    ]


def workload_ref(pod: Pod) -> str:
    """`deployment/web` for a pod with a template owner, else `pod/<name>`."""
    o = template_owner(pod)
    return f"{o.kind.lower()}/{o.name}" if o else f"pod/{name_of(pod)}"


def pod_events(snap: Snapshot, pod: Pod, reasons: Sequence[str], prefix: str = "") -> Event | None:
    """The newest event on `pod` with one of `reasons` (and a message starting with `prefix`), if events were read."""
    if snap.data.missing(Kind.EVENT) is not None:
        return None
    found = [
        e
        for e in snap.data.events_for("Pod", snap.namespace, name_of(pod))
        if e.reason in reasons and event_message(e).startswith(prefix)
    ]
    return newest_event(found)


def header(snap: Snapshot, s: Scan) -> str:
    return f"Service {snap.namespace}/{snap.name}: {pods_phrase(s.pods, s.population)}"


# ---- KD301 -----------------------------------------------------------------------------------------------


@dataclass
class Placement:
    notes: list[str]
    fixes: list[str]
    evidence: list[Evidence]


def _nodes_by_name(snap: Snapshot) -> list[Node]:
    """Every node, sorted by name; memoised per data. Read only."""
    key = ("nodes-by-name",)
    memo = snap.data.memo
    if key not in memo:
        memo[key] = sorted(snap.data.nodes, key=name_of)
    return memo[key]  # type: ignore[no-any-return]


def _placement_rules(spec: PodSpec) -> bytes:
    """What `node_selector_misses` reads of a pod spec (its nodeSelector and required node affinity), as a
    memo key: the pods of a workload share their placement rules, and one verdict per node is enough."""
    terms = (
        spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    )
    return msgspec.json.encode((spec.node_selector, terms))


def _selector_misses(snap: Snapshot, spec: PodSpec, rules: bytes) -> Mapping[str, list[str]]:
    """Node name -> why the spec's placement rules exclude it ([] = it fits); memoised per data and rules.
    Read only."""
    key = ("node-selector-misses", rules)
    memo = snap.data.memo
    if key not in memo:
        memo[key] = {name_of(n): node_selector_misses(spec, n) for n in _nodes_by_name(snap)}
    return memo[key]  # type: ignore[no-any-return]


def _untolerated(
    snap: Snapshot, spec: PodSpec, rules: bytes, fitting: Sequence[Node]
) -> Mapping[str, list[Taint]]:
    """Node name -> its taints the spec does not tolerate, for the nodes that fit the rules (`fitting`, which
    the rules decide); memoised per data, rules and tolerations. Read only."""
    key = ("node-untolerated", rules, msgspec.json.encode(spec.tolerations))
    memo = snap.data.memo
    if key not in memo:
        memo[key] = {name_of(n): untolerated_taints(spec, n) for n in fitting}
    return memo[key]  # type: ignore[no-any-return]


def _placement(snap: Snapshot, pod: Pod, detail: str) -> Placement:
    """Why no node takes the pod: nodeSelector/affinity vs node labels, tolerations vs taints, cordons."""
    out = Placement([], [], [])
    ns, spec = snap.namespace, pod.spec
    ref = workload_ref(pod)
    patchable = not ref.startswith("pod/")
    scheduler = spec.scheduler_name or "default-scheduler"
    gates = [g.name for g in spec.scheduling_gates]
    if gates:
        out.notes.append(
            f"the pod has schedulingGates {', '.join(gates)}: the scheduler ignores it until a controller "
            "removes them"
        )
        out.fixes.append(
            f"Find the controller that owns the scheduling gate {gates[0]} (or remove it from {ref})"
        )
        out.evidence.append(Evidence("Pod", ns, name_of(pod), "spec.schedulingGates", ", ".join(gates), "[]"))
        return out
    scheduled_cond = any(c.type == "PodScheduled" for c in pod.status.conditions)
    if not scheduled_cond:
        if scheduler != "default-scheduler":
            out.notes.append(
                f"spec.schedulerName is {scheduler!r} and no scheduler has acted on the pod: "
                "is a scheduler of that name running?"
            )
            out.fixes.append(f"Remove spec.schedulerName from {ref} or deploy the {scheduler!r} scheduler")
            out.evidence.append(
                Evidence("Pod", ns, name_of(pod), "spec.schedulerName", scheduler, "a running scheduler")
            )
        else:
            out.notes.append("no scheduler has acted on the pod yet: is kube-scheduler running?")
            out.fixes.append("kubectl -n kube-system get pods -l component=kube-scheduler")
    if "unbound" in detail and "PersistentVolumeClaim" in detail:
        out.notes.append("a PersistentVolumeClaim of the pod is not bound")
        out.fixes.append(
            f"kubectl -n {ns} get pvc   # bind the claim: check its StorageClass and provisioner"
        )
    if "Insufficient" in detail:
        out.notes.append("no node has enough allocatable resources for the pod's requests")
        out.fixes.append(
            f"Lower resources.requests of {ref} or add node capacity "
            "(kubectl describe nodes | grep -A 8 'Allocated resources')"
        )
    if (missing := snap.data.missing(Kind.NODE)) is not None:
        out.notes.append(
            f"nodes could not be read ({missing.describe()}), so labels and taints were not compared"
        )
        return out
    nodes = _nodes_by_name(snap)
    if not nodes:
        out.notes.append("the cluster has no nodes")
        out.fixes.append("Add nodes (kubectl get nodes shows none)")
        return out
    rules = _placement_rules(spec)
    sel_misses = _selector_misses(snap, spec, rules)
    fitting = [n for n in nodes if not sel_misses[name_of(n)]]
    if not fitting:
        wanted = dict(spec.node_selector)
        per_node = [f"{name_of(n)} {', '.join(sel_misses[name_of(n)])}" for n in nodes[:3]]
        out.notes.append(
            f"no node matches the pod's placement rules ({format_map(wanted) if wanted else 'node affinity'}): "
            + "; ".join(per_node)
        )
        out.evidence.append(
            Evidence(
                "Pod",
                ns,
                name_of(pod),
                "spec.nodeSelector" if wanted else "spec.affinity.nodeAffinity",
                format_map(wanted) if wanted else "required node affinity",
                "labels of at least one node",
            )
        )
        for n in nodes[:3]:
            out.evidence.append(
                Evidence(
                    "Node", None, name_of(n), "metadata.labels", "; ".join(sel_misses[name_of(n)]), "a match"
                )
            )
        absent = [k for k, v in wanted.items() if all(labels_of(n).get(k) != v for n in nodes)]
        for k in absent[:1]:
            path = json_pointer("spec", "template", "spec", "nodeSelector", k)
            if patchable:
                out.fixes.append(
                    f'kubectl -n {ns} patch {ref} --type=json -p \'[{{"op":"remove","path":"{path}"}}]\''
                    f"   # or label a node: kubectl label node {name_of(nodes[0])} {k}={wanted[k]}"
                )
            else:
                out.fixes.append(
                    f"kubectl label node {name_of(nodes[0])} {k}={wanted[k]}   # or recreate the pod"
                )
        if not absent:
            out.fixes.append(f"Fix spec.template.spec.affinity.nodeAffinity of {ref} to match node labels")
        return out
    taints = _untolerated(snap, spec, rules, fitting)
    untainted = [n for n in fitting if not taints[name_of(n)]]
    if not untainted:
        per_node = [
            f"{name_of(n)} {', '.join(format_taint(t) for t in taints[name_of(n)])}" for n in fitting[:3]
        ]
        out.notes.append(
            "every node that matches is tainted and the pod has no toleration: " + "; ".join(per_node)
        )
        first = fitting[0]
        t = taints[name_of(first)][0]
        toleration = (
            f"{{key: {t.key}, operator: Equal, value: {t.value}, effect: {t.effect}}}"
            if t.value
            else f"{{key: {t.key}, operator: Exists, effect: {t.effect}}}"
        )
        out.fixes.append(
            f"Add to {ref} spec.template.spec.tolerations: {toleration}"
            if patchable
            else f"Recreate the pod with spec.tolerations: {toleration}"
        )
        out.fixes.append(f"kubectl taint node {name_of(first)} {format_taint(t)}-   # or remove the taint")
        for n in fitting[:3]:
            out.evidence.append(
                Evidence(
                    "Node",
                    None,
                    name_of(n),
                    "spec.taints",
                    ", ".join(format_taint(x) for x in taints[name_of(n)]),
                    "a toleration for each NoSchedule/NoExecute taint",
                )
            )
        return out
    usable = [n for n in untainted if node_ready(n) and node_schedulable(n)]
    if not usable:
        states = [
            f"{name_of(n)} ({'cordoned' if not node_schedulable(n) else 'NotReady'})" for n in untainted[:3]
        ]
        out.notes.append("the nodes that fit are cordoned or not Ready: " + ", ".join(states))
        cordoned = [n for n in untainted if not node_schedulable(n)]
        if cordoned:
            out.fixes.append(f"kubectl uncordon {name_of(cordoned[0])}   # if the maintenance is over")
        for n in untainted[:3]:
            out.evidence.append(
                Evidence(
                    "Node",
                    None,
                    name_of(n),
                    "spec.unschedulable" if not node_schedulable(n) else "status.conditions[Ready]",
                    "true" if not node_schedulable(n) else "not True",
                    "schedulable and Ready",
                )
            )
    return out


@check(
    id="KD301",
    category=Category.PODS_UNSCHEDULABLE,
    stage=Stage.PODS,
    title="The selected pods are scheduled",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods that no node accepted (`PodScheduled=False`, or Pending without `spec.nodeName`) and
quotes the scheduler's message. When nodes can be read, compares the pod's `nodeSelector` and required node
affinity with the node labels, its tolerations with the node taints, and notes cordoned or NotReady nodes,
so the message names the exact label or taint that keeps the pod out.""",
    why="""
A pod that is not scheduled never gets an IP and never becomes an endpoint. When every selected pod is
Pending, the Service has no endpoints: connections are refused and Ingresses answer 503.""",
    example="""
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      nodeSelector: {disktype: ssd}   # no node has this label
---
kind: Node
metadata: {name: node-a, labels: {disktype: hdd}}""",
    fix="""
Align placement and nodes: fix or remove the `nodeSelector` / affinity in the pod template
(`kubectl -n shop patch deployment web --type=json -p '[{"op":"remove","path":"/spec/template/spec/nodeSelector/disktype"}]'`),
label a node (`kubectl label node node-a disktype=ssd`), add a toleration for the node's taint, uncordon a
node, or lower the pod's resource requests.""",
)
def pods_unschedulable(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_UNSCHEDULABLE)
    if not s.hits:
        return
    main = s.main()
    placement = _placement(snap, main.pod, main.problem.detail)
    if main.problem.field == "spec.nodeName":  # Pending without a PodScheduled condition
        message = f"{header(snap, s)} {s.be} Pending with no node assigned"
    else:
        message = (
            f"{header(snap, s)} cannot be scheduled ({main.problem.reason}): "
            f"scheduler says {quote(main.problem.detail)}"
        )
    if placement.notes:
        message += "; " + "; ".join(placement.notes)
    fixes = placement.fixes or [f"kubectl -n {snap.namespace} describe pod {name_of(main.pod)}"]
    yield pods_unschedulable.finding(
        s.severity,
        message + s.tail(),
        "\n".join(fixes),
        pod_evidence(snap, s.hits, "scheduled on a node") + placement.evidence,
    )


# ---- KD302 -----------------------------------------------------------------------------------------------

IMAGE_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def _image_hint(reason: str, message: str) -> tuple[str, str]:
    """(what it means, the kind of fix) from the kubelet's pull error."""
    low = message.lower()
    if reason == "InvalidImageName":
        return "the image reference is malformed", "image"
    if reason == "ErrImageNeverPull":
        return "imagePullPolicy is Never and the image is not on the node", "policy"
    if any(w in low for w in ("unauthorized", "denied", "authentication required", "403", "forbidden")):
        return "the registry refused the pull: credentials (imagePullSecrets) are missing or wrong", "secret"
    if any(w in low for w in ("not found", "manifest unknown", "does not exist", "404")):
        return "the image or tag does not exist in the registry", "image"
    if any(w in low for w in ("no such host", "i/o timeout", "connection refused", "tls", "x509")):
        return "the node cannot reach the registry", "network"
    return "", "image"


@check(
    id="KD302",
    category=Category.PODS_IMAGE_PULL,
    stage=Stage.PODS,
    title="The selected pods' images can be pulled",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods with a container waiting in `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName` or
`ErrImageNeverPull`, names the image and container, quotes the kubelet's pull error and says what it means
(tag missing, registry credentials, registry unreachable, malformed reference).""",
    why="""
A container that cannot be pulled never starts, so the pod never becomes ready and the endpoint stays
`ready: false`. A typo in a tag during a rollout leaves only the old pods serving; with one replica or the
Recreate strategy the Service has no endpoint at all.""",
    example="""
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: web, image: "nginx:1.27-typo"}]""",
    fix="""
Fix the image reference (`kubectl -n shop set image deployment/web web=nginx:1.27`), or give the pods
credentials for a private registry (`imagePullSecrets`), and check the exact error with
`kubectl -n shop describe pod <pod>`.""",
)
def pods_image_pull(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_IMAGE_PULL)
    if not s.hits:
        return
    main = s.main()
    found = waiting_status(main.pod, IMAGE_REASONS)
    cname = found[1].name if found else "?"
    spec_c = find_container(main.pod, cname)
    image = (spec_c.image if spec_c else "") or (found[1].image if found else "") or "?"
    meaning, kind = _image_hint(main.problem.reason, main.problem.detail)
    message = (
        f"{header(snap, s)} cannot pull image {quote(image)} (container {cname}, {main.problem.reason}): "
        f"{quote(main.problem.detail)}"
    )
    if meaning:
        message += f"; {meaning}"
    ref = workload_ref(main.pod)
    ns = snap.namespace
    if kind == "secret":
        fix = (
            f"kubectl -n {ns} create secret docker-registry regcred --docker-server=<registry> "
            f"--docker-username=<user> --docker-password=<token>\nthen add imagePullSecrets: [{{name: regcred}}] "
            f"to {ref}'s pod template (or to its ServiceAccount)"
        )
    elif kind == "policy":
        fix = f"Set imagePullPolicy: IfNotPresent on container {cname} of {ref}, or preload the image on the node"
    elif kind == "network":
        fix = f"kubectl -n {ns} describe pod {name_of(main.pod)}   # check the node's DNS, egress and proxy to the registry of {image}"
    else:
        fix = f"kubectl -n {ns} set image {ref} {cname}=<an image:tag that exists>   # currently {image}"
    yield pods_image_pull.finding(
        s.severity,
        message + s.tail(),
        fix,
        pod_evidence(snap, s.hits, f"image {image} pulled"),
    )


# ---- KD303 -----------------------------------------------------------------------------------------------

_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)")
_MISSING_OBJ = re.compile(r'(secret|configmap) "([^"]+)" not found', re.IGNORECASE)


@check(
    id="KD303",
    category=Category.PODS_CONFIG_ERROR,
    stage=Stage.PODS,
    title="The selected pods' containers can be created",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods with a container waiting in `CreateContainerConfigError`, `CreateContainerError` or
`RunContainerError` and quotes the kubelet's message: typically a Secret or ConfigMap (or one key of it)
that `env`/`envFrom`/volumes reference but that does not exist, or a command that cannot be executed.
kubediag never reads Secrets: the missing name and key come from that message.""",
    why="""
The container is never started, so the pod never becomes ready. A missing key in a Secret added in the same
change as a new Deployment version breaks every new pod.""",
    example="""
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: api
        env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db-creds, key: password}}   # the Secret has no key 'password'""",
    fix="""
Create the missing object or key (`kubectl -n shop patch secret db-creds -p '{"stringData":{"password":"..."}}'`,
`kubectl -n shop create configmap app-config --from-file=...`), or mark the reference `optional: true`, or fix
the command/entrypoint named in the error.""",
)
def pods_config_error(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_CONFIG_ERROR)
    if not s.hits:
        return
    main = s.main()
    ns, detail = snap.namespace, main.problem.detail
    message = (
        f"{header(snap, s)} cannot start a container ({main.problem.reason}): kubelet says {quote(detail)}"
    )
    evidence = pod_evidence(snap, s.hits, "container created")
    if m := _MISSING_KEY.search(detail):
        key, kind, obj_ns, obj = m.group(1), m.group(2), m.group(3), m.group(4)
        field = "stringData" if kind == "Secret" else "data"
        fix = (
            f'kubectl -n {obj_ns} patch {kind.lower()} {obj} -p \'{{"{field}":{{"{key}":"<value>"}}}}\''
            f"   # or fix the key name referenced by {workload_ref(main.pod)}"
        )
        evidence.append(
            Evidence(kind, obj_ns, obj, f"data.{key}", "missing", f"key {key} referenced by the pod")
        )
    elif m := _MISSING_OBJ.search(detail):
        kind, obj = m.group(1).lower(), m.group(2)
        create = "secret generic" if kind == "secret" else "configmap"
        fix = (
            f"kubectl -n {ns} create {create} {obj} --from-literal=<key>=<value>"
            f"   # with the keys {workload_ref(main.pod)} references, or fix the name"
        )
        evidence.append(
            Evidence(
                "Secret" if kind == "secret" else "ConfigMap",
                ns,
                obj,
                "metadata.name",
                "not found",
                "exists (referenced by the pod)",
            )
        )
    else:
        fix = (
            f"kubectl -n {ns} describe pod {name_of(main.pod)}   # then fix the container's command, "
            f"volume or env in {workload_ref(main.pod)}"
        )
    yield pods_config_error.finding(s.severity, message + s.tail(), fix, evidence)


# ---- KD304 -----------------------------------------------------------------------------------------------

_EXIT_CODES = {
    1: "the application exited with an error",
    2: "the shell or application reported a usage error",
    126: "the command is not executable",
    127: "the command was not found in the image",
    134: "the process aborted (SIGABRT)",
    137: "the process was killed (SIGKILL: out of memory or a failed liveness probe)",
    139: "the process crashed (SIGSEGV)",
    143: "the process was terminated (SIGTERM)",
}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z]*)$")


def _doubled(quantity: str) -> str:
    m = _QUANTITY.match(quantity)
    if not m:
        return "<more>"
    number = float(m.group(1)) * 2
    return f"{int(number) if number.is_integer() else number}{m.group(2)}"


@check(
    id="KD304",
    category=Category.PODS_CRASHLOOP,
    stage=Stage.PODS,
    title="The selected pods are not crash-looping",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods with a container in `CrashLoopBackOff` and explains the last termination:
`OOMKilled` (with the memory limit), the exit code and what it usually means, the termination message, and
liveness-probe kills when pod Events were gathered.""",
    why="""
A crash-looping container is restarted with growing back-off (up to 5 minutes) and is almost never ready, so
its pod is not an endpoint that takes traffic. When all replicas crash, the Service has no endpoints.""",
    example="""
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: api
        resources: {limits: {memory: 50Mi}}   # the JVM needs 300Mi: OOMKilled, exit code 137""",
    fix="""
Read the previous container's log: `kubectl -n shop logs <pod> -c <container> --previous`. For `OOMKilled`
raise `resources.limits.memory`; for liveness kills fix the probe or add a `startupProbe`; for exit codes
126/127 fix the command or image.""",
)
def pods_crashloop(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_CRASHLOOP)
    if not s.hits:
        return
    main = s.main()
    ns, pod = snap.namespace, main.pod
    found = waiting_status(pod, ["CrashLoopBackOff"])
    cs = found[1] if found else None
    cname = (cs.name if cs else "") or "?"
    last = cs.last_state.terminated if cs else None
    reason = last.reason if last else ""
    code = last.exit_code if last else None
    parts = [
        f"{header(snap, s)} {s.be} crash-looping (container {cname}, restarts {cs.restart_count if cs else 0})"
    ]
    logs = f"kubectl -n {ns} logs {name_of(pod)} -c {cname} --previous"
    fixes = [logs]
    container = find_container(pod, cname)
    limits = container.resources.limits if container else {}
    if reason == "OOMKilled":
        mem = str(limits.get("memory") or "")
        parts.append(
            f"last terminated: OOMKilled (exit code {code}): the container exceeded its memory limit"
            + (f" {mem}" if mem else "")
        )
        fixes.append(
            f"kubectl -n {ns} set resources {workload_ref(pod)} -c {cname} --limits=memory="
            f"{_doubled(mem) if mem else '<more>'}   # raise the memory limit",
        )
    elif last is not None:
        meaning = _EXIT_CODES.get(last.exit_code, "")
        parts.append(
            f"last terminated: {reason or 'Error'} (exit code {code}{': ' + meaning if meaning else ''})"
        )
        if code in (126, 127):
            fixes.append(f"fix the command/args of container {cname} in {workload_ref(pod)} or the image")
    if last is not None and last.message:
        parts.append(f"termination message {quote(last.message)}")
    killed = pod_events(snap, pod, ["Unhealthy"], "Liveness probe failed") or pod_events(
        snap, pod, ["Killing"], ""
    )
    if killed is not None and (
        "liveness" in event_message(killed).lower() or event_message(killed).startswith("Liveness")
    ):
        parts.append(f"the kubelet restarts it after liveness probe failures: {quote(event_message(killed))}")
        fixes.append(f"fix the livenessProbe of {cname} (path, port, timeouts) or add a startupProbe")
    evidence = pod_evidence(snap, s.hits, "running without restarts")
    log_lines, log_note = crash_log_evidence(snap, s.pods)
    if log_note:
        parts.append(log_note)
    yield pods_crashloop.finding(
        s.severity,
        "; ".join(parts) + s.tail(),
        "\n".join(fixes),
        [*evidence, *log_lines],
    )


def crash_log_evidence(snap: Snapshot, pods: Sequence[Pod]) -> tuple[list[Evidence], str]:
    """The crashed containers' last log lines the gatherer read (one pod per workload, `pods/log` with
    previous=true) as evidence, printed literally; a log that could not be read (forbidden, not found) is an
    evidence line saying so. Evidence only: `audit` reads no logs, and its verdicts and messages equal svc's.
    (The second element is kept for a future note; always empty.)"""
    plane = snap.data.data_plane
    if plane is None:
        return [], ""
    names = {name_of(p) for p in pods}
    evidence: list[Evidence] = []
    for tail in plane.logs:
        if tail.namespace != snap.namespace or tail.pod not in names:
            continue
        run = "previous run" if tail.previous else "last run"
        if tail.unavailable:
            evidence.append(
                Evidence(
                    "Pod",
                    tail.namespace,
                    tail.pod,
                    f"log of container {tail.container} ({run}, last lines)",
                    f"not read ({tail.unavailable}); the finding stands without it",
                    "the reason the container exits",
                )
            )
            continue
        text = tail.text.rstrip("\n")
        evidence.append(
            Evidence(
                "Pod",
                tail.namespace,
                tail.pod,
                f"log of container {tail.container} ({run}, last lines)",
                text if text.strip() else "(empty log)",
                "the reason the container exits",
            )
        )
    return evidence, ""


# ---- KD305 -----------------------------------------------------------------------------------------------


def _probe_port_notes(pod: Pod) -> list[str]:
    """Readiness probes aimed at ports their container does not declare (a frequent copy-paste slip)."""
    notes = []
    for c in serving_containers(pod):
        probe = c.readiness_probe
        action = (probe.http_get or probe.tcp_socket or probe.grpc) if probe is not None else None
        declared = c.ports
        if action is None or not declared or action.port is None:
            continue
        port = action.port
        numbers = sorted({p.container_port for p in declared})
        names = {p.name for p in declared if p.name}
        if isinstance(port, str) and not port.isdigit() and port not in names:
            notes.append(
                f"container {c.name}'s readiness probe names port {port!r}, which it does not declare "
                f"(declares {', '.join(sorted(names)) or 'no names'})"
            )
        elif (isinstance(port, int) or str(port).isdigit()) and int(port) not in numbers:
            notes.append(
                f"container {c.name}'s readiness probe targets port {port}, which it does not declare "
                f"(declares {', '.join(map(str, numbers))})"
            )
    return notes


@check(
    id="KD305",
    category=Category.PODS_NOT_READY,
    stage=Stage.PODS,
    title="The selected pods are ready",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods that run but are not Ready: a failing readiness probe (described: `GET /path on port`,
TCP, gRPC or exec, with the probe failure quoted from pod Events when they were gathered, and a probe aimed at a port the
container does not declare), a startup probe that has not passed, or readiness gates whose conditions are
not True.""",
    why="""
The endpointslice controller lists not-ready pods with `ready: false`; kube-proxy and Ingress controllers
send them no traffic. When no selected pod is ready the Service refuses connections even though every pod
is Running (`0/1` in `kubectl get pods`).""",
    example="""
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx
        readinessProbe: {httpGet: {path: /healthz, port: 80}}   # nginx answers 404 on /healthz""",
    fix="""
See why with `kubectl -n shop describe pod <pod>` (Events: `Readiness probe failed: HTTP probe failed with
statuscode: 404`), then fix the probe's path, port or thresholds in the pod template, or the dependency the
application waits for. For readiness gates, fix the controller that sets the gate's condition.""",
)
def pods_not_ready(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_NOT_READY)
    if not s.hits:
        return
    main = s.main()
    ns, pod = snap.namespace, main.pod
    parts = [f"{header(snap, s)} {s.be} running but not ready ({main.problem.reason}): {main.problem.detail}"]
    ref = workload_ref(pod)
    if main.problem.reason == "ReadinessGatesNotReady":
        fix = (
            f"The gate conditions are set by another controller (e.g. a load-balancer controller): check it, and "
            f"kubectl -n {ns} get pod {name_of(pod)} -o jsonpath='{{.status.conditions}}'"
        )
    else:
        notes = _probe_port_notes(pod)
        parts.extend(notes)
        unstarted = [
            cs.name
            for cs in pod.status.container_statuses
            if cs.started is False
            and (fc := find_container(pod, cs.name)) is not None
            and fc.startup_probe is not None
        ]
        if unstarted:
            parts.append(f"the startupProbe of {', '.join(unstarted)} has not passed yet")
        event = pod_events(snap, pod, ["Unhealthy"], "Readiness probe failed") or pod_events(
            snap, pod, ["Unhealthy"], "Startup probe failed"
        )
        if event is not None:
            parts.append(f"kubelet: {quote(event_message(event))}")
        fix = f"kubectl -n {ns} describe pod {name_of(pod)}   # Events show the probe failures; then fix "
        fix += (
            f"the readinessProbe port of {ref}"
            if notes
            else f"the readinessProbe (path, port, thresholds) of {ref} or the dependency it waits for"
        )
    log_lines, log_note = crash_log_evidence(snap, s.pods)  # a container that exited at start
    if log_note:
        parts.append(log_note)
    yield pods_not_ready.finding(
        s.severity,
        "; ".join(parts) + s.tail(),
        fix,
        [*pod_evidence(snap, s.hits, "Ready=True"), *log_lines],
    )


# ---- KD306 -----------------------------------------------------------------------------------------------


@check(
    id="KD306",
    category=Category.PODS_TERMINATING,
    stage=Stage.PODS,
    title="Not every selected pod is terminating",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods with a `deletionTimestamp`. When every selected pod is terminating and no replacement is
selected, the Service is about to lose its last endpoint; pods held by finalizers are named. Some pods
terminating alongside ready ones is a normal rollout or scale-down and is only noted.""",
    why="""
Terminating pods are never `ready` endpoints; kube-proxy falls back to terminating-but-serving endpoints only
while no ready one exists, and only until the containers exit. A Deployment with one replica and the
`Recreate` strategy, a drain, or a scale to zero leaves the Service without endpoints.""",
    example="""
kind: Deployment
spec:
  replicas: 1
  strategy: {type: Recreate}   # the old pod terminates before the new one exists""",
    fix="""
Keep at least two replicas with `strategy.rollingUpdate.maxUnavailable: 0` and a PodDisruptionBudget; find
out who deletes the pods (`kubectl -n shop get deployment,replicaset`); for pods stuck on a finalizer, fix
or remove the controller that owns the finalizer.""",
)
def pods_terminating(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_TERMINATING)
    if not s.hits:
        return
    ns = snap.namespace
    evidence = pod_evidence(snap, s.hits, "not deleting (or a ready replacement)")
    if len(s.hits) < s.total:
        yield pods_terminating.finding(
            Severity.INFO,
            f"{header(snap, s)} {s.be} terminating; {s.total - len(s.hits)} other selected pod(s) remain "
            "(normal during a rollout or scale-down)",
            f"kubectl -n {ns} get pods -l {format_map(snap.selector)} -w",
            evidence,
        )
        return
    finalizers = sorted({f for h in s.hits for f in h.pod.metadata.finalizers})
    message = (
        f"{header(snap, s)} {s.be} terminating and no replacement pod is selected: the Service is losing "
        "its last endpoints"
    )
    ref = workload_ref(s.hits[0].pod)
    fix = (
        f"kubectl -n {ns} get {ref if not ref.startswith('pod/') else 'pods'} -o wide   # scaled to 0, "
        "Recreate strategy or a drain? Keep >= 2 replicas with maxUnavailable: 0 and a PodDisruptionBudget"
    )
    if finalizers:
        message += f"; finalizers {', '.join(finalizers)} hold them until their controller removes them"
        fix = (
            f"Check the controller that owns the finalizer {finalizers[0]}; only if it is gone: kubectl -n {ns} "
            f'patch pod {name_of(s.hits[0].pod)} --type=merge -p \'{{"metadata":{{"finalizers":null}}}}\''
        )
        evidence.append(
            Evidence("Pod", ns, name_of(s.hits[0].pod), "metadata.finalizers", ", ".join(finalizers), "[]")
        )
    yield pods_terminating.finding(Severity.CRITICAL, message, fix, evidence)


# ---- KD307 -----------------------------------------------------------------------------------------------


@check(
    id="KD307",
    category=Category.PODS_NO_IP,
    stage=Stage.PODS,
    title="The selected pods have an IP and are not terminal",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods that are scheduled but have no `status.podIP` (the sandbox or the CNI plugin failed on
the node; `FailedCreatePodSandBox` Events are quoted when pod Events were gathered), and selected pods in a terminal phase
(`Succeeded`, `Failed`, e.g. `Evicted`).""",
    why="""
The endpointslice controller skips pods without an IP and terminal pods: they are not endpoints at all.
A broken CNI on a node leaves its new pods in `ContainerCreating` forever; a Service that selects pods of a
Job, or only evicted pods, has nothing to send traffic to.""",
    example="""
kind: Pod
metadata: {name: web-7c9d-x2b4k}
spec: {nodeName: node-b}
status: {phase: Pending}   # scheduled, no podIP: CNI failed on node-b""",
    fix="""
For pods without an IP: `kubectl -n shop describe pod <pod>` and check the CNI pods on that node
(`kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=<node>`). For terminal pods: find
why they stopped (`status.message`, e.g. eviction for memory pressure), delete them, and make sure the
Service selects a long-running workload.""",
)
def pods_no_ip(snap: Snapshot) -> Iterator[Finding]:
    s = scan(snap, Category.PODS_NO_IP)
    if not s.hits:
        return
    ns = snap.namespace
    terminal = [h for h in s.hits if is_terminal(h.pod)]
    no_ip = [h for h in s.hits if not is_terminal(h.pod)]
    if no_ip:
        sub = Scan(tuple(no_ip), s.population, s.ready)
        first = no_ip[0].pod
        nodes = sorted({h.pod.spec.node_name or "?" for h in no_ip})
        message = (
            f"{header(snap, sub)} {sub.be} scheduled on {', '.join(nodes[:3])} but {'has' if len(no_ip) == 1 else 'have'} no IP: the pod sandbox or "
            "the CNI plugin did not set up their network"
        )
        event = pod_events(snap, first, ["FailedCreatePodSandBox"])
        if event is not None:
            message += f"; kubelet: {quote(event_message(event))}"
        yield pods_no_ip.finding(
            sub.severity,
            message + sub.tail(),
            f"kubectl -n {ns} describe pod {name_of(first)}; kubectl -n kube-system get pods -o wide "
            f"--field-selector spec.nodeName={nodes[0]}   # is the CNI pod on that node healthy?",
            pod_evidence(snap, no_ip, "a pod IP"),
        )
    if terminal:
        sub = Scan(tuple(terminal), s.population, s.ready)
        phases = Counter(h.pod.status.phase for h in terminal)
        first_status = terminal[0].pod.status
        why = ": ".join(v for v in (first_status.reason, first_status.message) if v)
        message = (
            f"{header(snap, sub)} {sub.be} terminal ({', '.join(f'{n} {p}' for p, n in sorted(phases.items()))})"
            + (f": {quote(why)}" if why else "")
            + "; terminal pods are never endpoints"
        )
        fix = f"kubectl -n {ns} delete pod --field-selector=status.phase=Failed   # after reading why they stopped"
        if phases.get("Succeeded"):
            fix = (
                f"The Service selects run-to-completion pods ({workload_ref(terminal[0].pod)}); select a "
                f"long-running workload instead; {fix}"
            )
        log_lines, log_note = crash_log_evidence(snap, [h.pod for h in terminal])  # exited with an error
        if log_note:
            message += "; " + log_note
        yield pods_no_ip.finding(
            sub.severity if s.ready == 0 else Severity.INFO,
            message + sub.tail(),
            fix,
            [*pod_evidence(snap, terminal, "phase Running"), *log_lines],
        )
