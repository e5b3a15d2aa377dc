"""KD308: selected pods held in an init container (Init:N/M), and the Service its command waits for."""

from __future__ import annotations

from collections.abc import Iterator

from kubediag.checks.base import check
from kubediag.checks.pods import Scan, header, pod_evidence, scan, workload_ref
from kubediag.initwait import InitHold, Waited, command_text, init_hold, waited_services
from kubediag.model import Category, Evidence, Finding, Kind, Stage
from kubediag.remedy import expose_command, service_port_for, workload_named
from kubediag.snapshot import Snapshot, name_of


def known_namespaces(snap: Snapshot) -> set[str]:
    data = snap.data
    return (
        {snap.namespace}
        | set(data.pods_by_ns)
        | set(data.namespaces_by_name)
        | {ns for ns, _ in data.service_lookups}
    )


def _create_fix(snap: Snapshot, w: Waited, ref: str, hold: InitHold) -> str:
    """Create the Service the init container waits for (exposing a workload of that name when one exists)."""
    data = snap.data
    found = workload_named(data, w.namespace, w.name)
    if found is not None:
        return expose_command(data, w.namespace, w.name, found[0], found[1])
    choice = service_port_for(data, w.namespace, w.name)
    port = w.port or choice.port
    where = (
        f"the port the init container dials ({w.text}:{w.port})"
        if w.port
        else (choice.source if choice.port else "no client names a port: use the port your clients dial")
    )
    return (
        f"Create Service {w.namespace}/{w.name} for the workload that serves it, e.g. kubectl -n {w.namespace} "
        f"create service clusterip {w.name} --tcp={port or '<PORT>'}:<CONTAINER-PORT>   # port: {where}; "
        f"then set its selector to that workload's pod labels. Or, if the name is wrong, fix the command of init "
        f"container {hold.name} in {ref}"
    )


@check(
    id="KD308",
    category=Category.PODS_INIT_BLOCKED,
    stage=Stage.PODS,
    title="The selected pods' init containers have completed",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Finds selected pods held in a regular init container (`Init:0/2` in `kubectl get pods`: `Initialized=False`,
an init container running, waiting or failed), names the container and its state, and reads its command for
what it waits for: `nslookup NAME`, `nc -z NAME PORT`, `wait-for NAME:PORT`, `pg_isready -h NAME`, a URL. When
that names a Service, says whether the Service exists (looked up by name, only in this situation); a pod
stuck in initialization is never given readiness-probe advice: its app containers have not started.""",
    why="""
App containers start only after every init container has exited 0, in order. An init container that loops
until a dependency resolves (`until nslookup order-db; do sleep 2; done`) holds every new pod in `Pending`
forever when that Service does not exist: the pods get no ready endpoint and the Service refuses connections,
although nothing is wrong with the Service, its selector or the app's probes.""",
    example="""
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - name: wait-for-db
        image: busybox:1.36
        command: ['sh', '-c', 'until nslookup order-db; do sleep 2; done']   # no Service order-db exists""",
    fix="""
Create the Service the init container waits for (`kubectl -n shop expose deployment/order-db --port=5432
--target-port=5432`, with the port its clients dial), or fix the name in the init container's command. For an
init container that fails, read its log: `kubectl -n shop logs <pod> -c <init-container>`.""",
)
def pods_init_blocked(snap: Snapshot) -> Iterator[Finding]:
    s: Scan = scan(snap, Category.PODS_INIT_BLOCKED)
    if not s.hits:
        return
    main = s.main()
    ns, pod = snap.namespace, main.pod
    hold = init_hold(pod)
    if hold is None:  # classified from the same pod: cannot happen, but never guess
        return
    ref = workload_ref(pod)
    apps = [c.name for c in pod.spec.containers]
    parts = [
        f"{header(snap, s)} {s.be} held in init container {hold.name} ({hold.reason}): {hold.describe()}; "
        f"the app container{'s' if len(apps) != 1 else ''} {', '.join(apps) or '?'} "
        f"{'have' if len(apps) != 1 else 'has'} not started, so readiness probes do not apply yet"
    ]
    evidence = pod_evidence(snap, s.hits, "init containers completed (Initialized=True)")
    logs = f"kubectl -n {ns} logs {name_of(pod)} -c {hold.name}"
    command = command_text(hold.container)
    waits = [
        w
        for w in waited_services(hold.container, ns, known_namespaces(snap))
        if (w.namespace, w.name) != (ns, snap.name)
    ]
    missing = [w for w in waits if snap.data.service_exists(w.namespace, w.name) is False]
    present = [w for w in waits if snap.data.service_exists(w.namespace, w.name) is True]
    unknown = [w for w in waits if snap.data.service_exists(w.namespace, w.name) is None]
    fixes: list[str] = []
    if hold.state.startswith("terminated"):
        parts.append("it failed; its log says why")
        fixes.append(f"{logs}   # then fix init container {hold.name} of {ref}")
    if missing:
        w = missing[0]
        parts.append(
            f"its command waits for Service {w.name}"
            + (f" (port {w.port})" if w.port else "")
            + f", which does not exist in namespace {w.namespace}"
        )
        evidence.append(
            Evidence(
                "Service",
                w.namespace,
                w.name,
                "metadata.name",
                "not found",
                f"exists (init container {hold.name} of {ref} waits for {w.text})",
            )
        )
        fixes.insert(0, _create_fix(snap, w, ref, hold))
    elif present:
        w = present[0]
        parts.append(
            f"its command waits for Service {w.namespace}/{w.name}, which exists: it may have no ready endpoint"
        )
        fixes.append(
            f"kubediag svc {w.name} -n {w.namespace}   # why the dependency does not answer; and {logs}"
        )
    elif unknown:
        w = unknown[0]
        parts.append(f"its command waits for {w.text} (could not check whether Service {w.name} exists)")
        fixes.append(f"kubectl -n {w.namespace} get service {w.name}; {logs}")
    elif command:  # not quoted: commands can carry credentials (URLs with passwords, -p flags)
        parts.append("its command names no Service kubediag recognises; its log says what it waits for")
    if not fixes:
        fixes.append(
            f"{logs}   # what it waits for; then fix that dependency or init container {hold.name} of {ref}"
        )
    yield pods_init_blocked.finding(s.severity, "; ".join(parts) + s.tail(), "\n".join(fixes), evidence)
