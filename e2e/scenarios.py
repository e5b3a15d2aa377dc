"""Scenario loading, seeding and waiting, shared by the e2e tests and `make demo`.

A scenario is a directory `e2e/scenarios/<name>/` with:
  manifests.yaml   objects to apply; `${NS}` is replaced by the scenario's namespace (`kd-<name>`); objects
                   without a namespace go to it; extra namespaces are declared as Namespace objects
  scenario.yaml    description, service, optional from, steps, wait conditions and the expectation
  *.yaml           other manifests that steps apply later (`{apply: FILE}`)

scenario.yaml:
  description: one line (printed by `make demo`)
  service: NAME            the Service to diagnose, in the scenario's namespace
  from: NS/POD             optional --from client (`${NS}` substituted)
  demo: true               part of `make demo`
  steps:                   run in order after seeding, before the wait conditions; each is one of
    - [ARG, ...]             kubectl arguments (`-n ${NS}` added unless -n/--namespace is given)
    - [wait-for, SELECTOR, COUNT]   pods ready (shorthand)
    - {wait: CONDITION}      any wait condition (below)
    - {apply: FILE}          apply another manifest of the scenario directory (`${NS}` substituted)
    - {pod_status: SELECTOR, patch: FILE, count: N}
                             write the status of the N pods matching SELECTOR (once they exist) through the
                             status subresource, as a kubelet would: FILE is a merge patch (YAML, `${NS}`
                             substituted); for pods labelled `kubediag.io/simulate: manual`, which KWOK leaves alone
  wait: [CONDITION, ...]   real conditions that must hold before kubediag runs (bounded; never sleeps)
  expect: {status, root_cause, exit_code, categories, not_categories, mentions, not_mentions}
  exclusive: true          the steps change something every scenario shares (e.g. scale the cluster DNS): the
                           scenario runs alone, after the others, and its teardown runs whatever happens
  teardown: [STEP, ...]    steps that restore what the steps changed (run after the diagnosis, always)
  args: [ARG, ...]         extra kubediag arguments (e.g. [--probe])

Cluster-scoped objects in a scenario's manifests (webhook configurations, IngressClasses) must be scoped to
the scenario's namespace and named after it (`${NS}`); cleanup deletes them with the namespaces.

Manifests may name stand-in applications on loopback as `${BACKEND:<spec>}` (e2e/backends.py: http-200,
http-503, tcp, closed, cut), replaced by the port the test process serves them on; KWOK PortForward objects
route pod ports there (`--probe` scenarios).

Everything here talks to the API server on loopback through kubectl; never to pod or cluster IPs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "e2e" / "scenarios"

# A step: kubectl arguments (a list), or a mapping {wait: CONDITION} / {apply: FILE}.
Step = list[str] | dict[str, Any]


@dataclass
class Scenario:
    name: str
    path: Path
    namespace: str
    service: str
    description: str
    expect: dict[str, Any]
    client: str | None = None
    steps: list[Step] = field(default_factory=list)
    wait: list[dict[str, Any]] = field(default_factory=list)
    demo: bool = False
    kind_only: str = ""  # set when the scenario cannot run on KWOK (reason)
    exclusive: bool = False  # runs alone, after the others (it changes something they share)
    teardown: list[Step] = field(default_factory=list)
    args: list[str] = field(default_factory=list)

    @property
    def manifests(self) -> str:
        return _backends((self.path / "manifests.yaml").read_text().replace("${NS}", self.namespace))


def _backends(text: str) -> str:
    if "${BACKEND:" not in text and "${LOGFILE:" not in text:
        return text
    import backends

    return backends.substitute(text)


def load_all() -> list[Scenario]:
    out = []
    for d in sorted(SCENARIOS.iterdir()):
        spec_file = d / "scenario.yaml"
        if not spec_file.is_file():
            continue
        spec = yaml.safe_load(spec_file.read_text())
        ns = f"kd-{d.name}"[:63]

        def sub(v: Any, ns: str = ns) -> Any:
            if isinstance(v, str):
                return v.replace("${NS}", ns)
            if isinstance(v, list):
                return [sub(x) for x in v]
            if isinstance(v, dict):
                return {k: sub(x) for k, x in v.items()}
            return v

        out.append(
            Scenario(
                name=d.name,
                path=d,
                namespace=ns,
                service=spec["service"],
                description=spec.get("description", ""),
                expect=spec["expect"],
                client=sub(spec.get("from")),
                steps=sub(spec.get("steps") or []),
                wait=sub(spec.get("wait") or []),
                demo=bool(spec.get("demo")),
                exclusive=bool(spec.get("exclusive")),
                teardown=sub(spec.get("teardown") or []),
                args=[str(a) for a in spec.get("args") or []],
            )
        )
    return out


def kubectl_bin() -> str:
    venv = Path(sys.executable).parent / "kubectl"
    return str(venv) if venv.exists() else (shutil.which("kubectl") or "kubectl")


def kubectl(*args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(
        [kubectl_bin(), *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def admin_kubeconfig() -> str:
    """The test cluster's admin kubeconfig (the first file of $KUBECONFIG)."""
    cfg = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not cfg or not Path(cfg).is_file():
        import pytest

        pytest.fail('KUBECONFIG is not set to the test cluster: eval "$(e2e/cluster env)"')
    return cfg


def token_kubeconfig(path: Path, token: str, namespace: str) -> Path:
    """The admin kubeconfig's server and CA, with a bearer token and `namespace` as its default."""
    doc = yaml.safe_load(Path(admin_kubeconfig()).read_text())
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa", "namespace": namespace}}],
                "current-context": "sa",
            }
        )
    )
    path.chmod(0o600)
    return path

def kubediag_bin() -> str:
    venv = Path(sys.executable).parent / "kubediag"
    return str(venv) if venv.exists() else (shutil.which("kubediag") or "kubediag")


def _docs(sc: Scenario, text: str | None = None) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(sc.manifests if text is None else text) if d]


def extra_namespaces(sc: Scenario) -> list[str]:
    return [d["metadata"]["name"] for d in _docs(sc) if d.get("kind") == "Namespace"]


def namespaces(sc: Scenario) -> list[str]:
    return [sc.namespace, *extra_namespaces(sc)]


# Cluster-scoped kinds scenarios may create (scoped to their namespace): never namespaced, deleted at cleanup.
CLUSTER_SCOPED = (
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "IngressClass",
)


def _in_namespace(sc: Scenario, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects default to the scenario's namespace; Namespace objects first, then the rest in order."""
    for d in docs:
        if d.get("kind") not in ("Namespace", *CLUSTER_SCOPED):
            d.setdefault("metadata", {}).setdefault("namespace", sc.namespace)
    return [d for d in docs if d.get("kind") == "Namespace"] + [
        d for d in docs if d.get("kind") != "Namespace"
    ]


def parks_pods(sc: Scenario) -> bool:
    """The scenario's manifests give pods finalizers (they must be released before its namespaces delete)."""
    return any("finalizers:" in f.read_text() for f in sc.path.glob("*.yaml") if f.name != "scenario.yaml")


def release_finalizers(scs: list[Scenario], only: set[str] | None = None) -> None:
    """Remove the finalizers of pods in the namespaces of scenarios that park pods on one."""
    for sc in scs:
        if not parks_pods(sc):
            continue
        for ns in namespaces(sc):
            if only is not None and ns not in only:
                continue
            out = kubectl("get", "pods", "-n", ns, "-o", "json", check=False)
            for p in json.loads(out)["items"] if out else []:
                if (p.get("metadata") or {}).get("finalizers"):
                    kubectl(
                        "-n",
                        ns,
                        "patch",
                        "pod",
                        p["metadata"]["name"],
                        "--type=merge",
                        "-p",
                        '{"metadata":{"finalizers":null}}',
                        check=False,
                    )


# kubectl handles one object at a time: independent batches go to a few kubectl processes at once
PARALLEL = 8


def _each(fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
    """fn over items on a few threads; the first exception is raised after all have run."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for f in [pool.submit(fn, item) for item in items]:
            f.result()


def _chunks(items: list[str]) -> list[list[str]]:
    size = max(1, -(-len(items) // PARALLEL))
    return [items[i : i + size] for i in range(0, len(items), size)]


def seed_all(scs: list[Scenario]) -> None:
    """(Re)create the scenarios' namespaces, then apply each scenario's manifests (scenarios in parallel)."""
    nss = [ns for sc in scs for ns in namespaces(sc)]
    existing = {n.split("/", 1)[-1] for n in kubectl("get", "namespaces", "-o", "name").split()}
    stale = [ns for ns in nss if ns in existing]
    if stale:
        release_finalizers(scs, only=set(stale))
        _each(
            lambda chunk: kubectl(
                "delete",
                "namespace",
                *chunk,
                "--ignore-not-found",
                "--wait=true",
                "--timeout=120s",
                timeout=180,
            ),
            _chunks(stale),
        )
    main = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": sc.namespace}} for sc in scs]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(main))
    _each(lambda sc: kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(_in_namespace(sc, _docs(sc)))), scs)


def seed(sc: Scenario) -> None:
    seed_all([sc])


def _run_step(sc: Scenario, step: Step) -> None:
    if isinstance(step, dict):
        if "wait" in step:
            wait_for(sc, step["wait"])
        elif "pod_status" in step:
            write_pod_status(sc, step)
        elif "apply" in step:
            text = _backends((sc.path / step["apply"]).read_text().replace("${NS}", sc.namespace))
            kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(_in_namespace(sc, _docs(sc, text))))
        else:
            raise ValueError(f"scenario {sc.name}: unknown step {step}")
        return
    if step and step[0] == "wait-for":
        wait_for(sc, {"for": step[1], **({"count": int(step[2])} if len(step) > 2 else {})})
    elif "-n" in step or "--namespace" in step:
        kubectl(*step)
    else:
        kubectl("-n", sc.namespace, *step)


def write_pod_status(sc: Scenario, step: dict[str, Any], timeout: float = 90.0) -> None:
    """Wait until `count` pods match the selector, then merge-patch each one's status (status subresource)."""
    selector, want = step["pod_status"], int(step.get("count", 1))
    body = json.dumps(yaml.safe_load((sc.path / step["patch"]).read_text().replace("${NS}", sc.namespace)))
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        pods = _pods(sc.namespace, selector)
        if len(pods) >= want:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"scenario {sc.name}: {len(pods)} pods {selector}, want {want} to write status"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    for p in pods:
        kubectl(
            "-n",
            sc.namespace,
            "patch",
            "pod",
            p["metadata"]["name"],
            "--subresource=status",
            "--type=merge",
            "-p",
            body,
        )


def run_steps(sc: Scenario) -> None:
    for step in sc.steps:
        _run_step(sc, step)


def _pods(ns: str, selector: str) -> list[dict[str, Any]]:
    out = kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json")
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def _pod_state(p: dict[str, Any]) -> set[str]:
    st = p.get("status") or {}
    states: set[str] = set()
    conds = {c["type"]: c for c in st.get("conditions") or []}
    if conds.get("Ready", {}).get("status") == "True":
        states.add("ready")
    if conds.get("PodScheduled", {}).get("status") == "False":
        states.add("unschedulable")
    if st.get("podIP"):
        states.add("has-ip")
    if st.get("phase") == "Running":
        states.add("running")
    if (p.get("metadata") or {}).get("deletionTimestamp"):
        states.add("terminating")
    for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason == "CrashLoopBackOff":
            states.add("crashloop")
        if reason in ("ImagePullBackOff", "ErrImagePull"):
            states.add("image-pull")
        if reason == "CreateContainerConfigError":
            states.add("config-error")
    if "running" in states and "ready" not in states and not states & {"crashloop"}:
        states.add("not-ready")
    if conds.get("Initialized", {}).get("status") == "False" and st.get("initContainerStatuses"):
        states.add("initializing")
    if conds.get("PodScheduled", {}).get("status") == "True" and not st.get("podIP"):
        states.add("no-ip")
    return states


def _timestamps(p: dict[str, Any]) -> list[str]:
    """Every second-resolution time recorded on a pod: creation, start, container starts."""
    st = p.get("status") or {}
    times = [(p.get("metadata") or {}).get("creationTimestamp"), st.get("startTime")]
    for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
        times.append(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
    return [str(t)[:19] for t in times if t]


def server_time(ns: str) -> str:
    """The API server's clock (second resolution): the creationTimestamp of a server-side dry-run create."""
    return kubectl(
        "-n",
        ns,
        "create",
        "configmap",
        "kd-clock-probe",
        "--dry-run=server",
        "-o",
        "jsonpath={.metadata.creationTimestamp}",
    )[:19]


def wait_for(sc: Scenario, cond: dict[str, Any], timeout: float = 90.0) -> None:
    """Poll a real condition until it holds (bounded); never a fixed sleep.

    Forms:  {pods: SELECTOR, state: ready|not-ready|crashloop|image-pull|config-error|unschedulable|no-ip|
                  terminating|running|has-ip|initializing, count: N, namespace: NS}   (at least N pods in that state)
            {pods: SELECTOR, state: gone}        (no pod matches any more)
            {endpoints: SERVICE, ready: N}       (exactly N ready endpoints in the Service's EndpointSlices)
            {slices: SERVICE, count: N}          (at least N EndpointSlices exist for the Service)
            {events: REASON, count: N}           (at least N events with this reason, e.g. FailedCreate)
            {clock_after: SELECTOR}              (the API server's clock has passed every timestamp of the
                                                  matching pods, at the API's 1 s resolution: an object
                                                  created now is strictly newer than those pods)
            {for: SELECTOR-or-state shorthand}   (used by steps)
    """
    ns = cond.get("namespace", sc.namespace)
    deadline = time.monotonic() + timeout
    last = ""
    delay = 0.2
    while time.monotonic() < deadline:
        if "endpoints" in cond or "slices" in cond:
            svc = cond.get("endpoints") or cond.get("slices")
            out = kubectl(
                "get", "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={svc}", "-o", "json"
            )
            slices = json.loads(out)["items"]
            if "slices" in cond:
                want = int(cond.get("count", 1))
                last = f"{len(slices)} EndpointSlices for {svc}, want at least {want}"
                if len(slices) >= want:
                    return
            else:
                eps = [e for s in slices for e in s.get("endpoints") or []]
                ready = sum(1 for e in eps if (e.get("conditions") or {}).get("ready"))
                want = int(cond.get("ready", 1))
                last = f"{ready} ready endpoints for {svc}, want {want}"
                if ready == want:
                    return
        elif "events" in cond:
            out = kubectl("get", "events", "-n", ns, "--field-selector", f"reason={cond['events']}", "-o", "json")
            got = len(json.loads(out)["items"])
            want = int(cond.get("count", 1))
            last = f"{got} {cond['events']} events, want at least {want}"
            if got >= want:
                return
        elif "clock_after" in cond:
            pods = _pods(ns, cond["clock_after"])
            newest = max((t for p in pods for t in _timestamps(p)), default="")
            now = server_time(ns)
            last = (
                f"API server clock {now}, newest time on pods {cond['clock_after']} {newest or '<no pods>'}"
            )
            if pods and now > newest:
                return
        else:
            selector = cond.get("pods") or cond.get("for", "")
            state = cond.get("state", "ready")
            pods = _pods(ns, selector)
            if state == "gone":
                last = f"{len(pods)} pods {selector} left, want none"
                if not pods:
                    return
            else:
                in_state = [p for p in pods if state in _pod_state(p)]
                want = int(cond.get("count", len(pods) or 1))
                last = f"{len(in_state)}/{len(pods)} pods {selector} in state {state}, want {want}"
                if pods and len(in_state) >= want:
                    return
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise TimeoutError(f"scenario {sc.name}: timed out waiting: {last}")


def settle(sc: Scenario) -> None:
    run_steps(sc)
    for cond in sc.wait:
        wait_for(sc, cond)


def diagnose(sc: Scenario, *extra: str, output: str = "json") -> subprocess.CompletedProcess[str]:
    args = [kubediag_bin(), "svc", sc.service, "-n", sc.namespace, "-o", output, "--timeout", "30", *sc.args, *extra]
    if sc.client:
        args += ["--from", sc.client]
    env = {**os.environ, "NO_COLOR": "1"} if output == "json" else dict(os.environ)
    return subprocess.run(args, capture_output=True, text=True, timeout=90, env=env, check=False)


def cleanup(sc: Scenario) -> None:
    cleanup_all([sc])


def cluster_scoped_objects(sc: Scenario) -> list[tuple[str, str]]:
    """(kind, name) of the cluster-scoped objects in the scenario's manifests (all of its YAML files)."""
    out: list[tuple[str, str]] = []
    for f in sorted(sc.path.glob("*.yaml")):
        if f.name == "scenario.yaml":
            continue
        # stand-in placeholders (${BACKEND:..}, ${LOGFILE:..}) only fill ports and paths: parse them as 0
        text = re.sub(r"\$\{(?:BACKEND|LOGFILE):[^}]*\}", "0", f.read_text().replace("${NS}", sc.namespace))
        for d in _docs(sc, text):
            if d.get("kind") in CLUSTER_SCOPED:
                out.append((str(d["kind"]).lower(), str(d["metadata"]["name"])))
    return out


def run_teardown(sc: Scenario) -> None:
    """The scenario's teardown steps, each attempted even if an earlier one failed (first error raised)."""
    errors: list[Exception] = []
    for step in sc.teardown:
        try:
            _run_step(sc, step)
        except Exception as exc:  # keep restoring the rest
            errors.append(exc)
    if errors:
        raise errors[0]


def cleanup_all(scs: list[Scenario]) -> None:
    """Release pod finalizers (scenarios park pods on one), delete the scenarios' cluster-scoped objects,
    then delete the namespaces without waiting."""
    release_finalizers(scs)
    for sc in scs:
        for kind, name in cluster_scoped_objects(sc):
            kubectl("delete", kind, name, "--ignore-not-found", "--wait=false", check=False)
    nss = [ns for sc in scs for ns in namespaces(sc)]
    _each(
        lambda chunk: kubectl(
            "delete", "namespace", *chunk, "--ignore-not-found", "--wait=false", check=False
        ),
        _chunks(nss),
    )


def web_and_typo_manifests(ns: str) -> str:
    """Two ready replicas, a healthy Service `web` and `web-typo` whose selector misses (app=wbe)."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-typo, namespace: {ns}}}
spec:
  selector: {{app: wbe}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""
