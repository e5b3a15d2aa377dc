"""Endpoint plumbing: do the Service's EndpointSlices list its ready pods?"""

from __future__ import annotations

from collections.abc import Iterator

from kubediag.checks.base import NotApplicable, check
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Pod
from kubediag.snapshot import SERVICE_NAME_LABEL, Snapshot, name_of
from kubediag.workloads import owner_label, pod_ip, selection


def pod_ips(pod: Pod) -> set[str]:
    ips = {p.ip for p in pod.status.pod_ips if p.ip}
    if pod_ip(pod):
        ips.add(pod_ip(pod))
    return ips


@check(
    id="KD401",
    category=Category.ENDPOINTS_MISSING,
    stage=Stage.ENDPOINTS,
    title="The EndpointSlices list the ready pods",
    needs=[Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE],
    e2e_exempt=(
        "needs ready pods that the endpointslice controller does not list: the shared e2e cluster runs one real "
        "kube-controller-manager for every scenario at once, which lists a ready pod within a second, and "
        "stopping it would break the other scenarios"
    ),
    what="""
Compares the ready selected pods that have an IP with the endpoints of the EndpointSlices labelled
`kubernetes.io/service-name=<service>` (matched by `targetRef` pod name or by address). Ready pods that no
slice lists, or that every slice still lists as not ready, are missing.""",
    why="""
kube-proxy, DNS (headless Services) and Ingress controllers read EndpointSlices, not pods. Ready pods that
no slice lists receive no traffic. When no slice exists at all for a Service with a selector and ready pods,
the endpointslice controller in kube-controller-manager is not running (or runs without that controller).""",
    example="""
# kube-controller-manager is down: pods are Ready, but
kubectl -n shop get endpointslices -l kubernetes.io/service-name=web
# No resources found in shop namespace.""",
    fix="""
Check kube-controller-manager (`kubectl -n kube-system get pods -l component=kube-controller-manager`, its
logs, its leader-election Lease, and that `--controllers` does not disable `endpointslice`). A few seconds
of lag after a pod becomes ready is normal; if it persists, restart the controller manager.""",
)
def endpoints_missing(snap: Snapshot) -> Iterator[Finding]:
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service has no endpoints by design")
    if not snap.selector:
        raise NotApplicable("the Service has no selector")
    ready = selection(snap).serving  # ready with an IP, by name
    if not ready:
        raise NotApplicable("no selected pod is ready with an IP")
    listed_names: dict[str, bool] = {}  # pod name -> listed as ready in some slice
    for s in snap.slices:
        for e in s.endpoints:
            ref = e.target_ref
            if ref is not None and ref.kind in ("Pod", "") and ref.name:  # an unset kind counts as a pod
                name = ref.name
                listed_names[name] = listed_names.get(name, False) or e.conditions.ready is not False
    if all(listed_names.get(name_of(p)) for p in ready):
        return  # every ready pod is listed as ready by name (the usual case): its addresses cannot change that
    listed_ips: dict[str, bool] = {}
    for s in snap.slices:
        for e in s.endpoints:
            ok = e.conditions.ready is not False  # nil means ready
            for a in e.addresses:
                listed_ips[a] = listed_ips.get(a, False) or ok

    def state(pod: Pod) -> str:
        """listed | not-ready | absent"""
        name = name_of(pod)
        if listed_names.get(name):  # listed as ready by name: the usual case, decided without the IPs
            return "listed"
        flags = [listed_names[name]] if name in listed_names else []
        flags += [listed_ips[ip] for ip in pod_ips(pod) if ip in listed_ips]
        if not flags:
            return "absent"
        return "listed" if any(flags) else "not-ready"

    missing = [p for p in ready if state(p) != "listed"]
    if not missing:
        return
    ns = snap.namespace
    stale = [p for p in missing if state(p) == "not-ready"]
    selector = f"-l {SERVICE_NAME_LABEL}={snap.name}"
    evidence = [
        Evidence(
            "Pod",
            ns,
            name_of(p),
            "status.podIP",
            f"{pod_ip(p)} ready, {'listed as not ready' if state(p) == 'not-ready' else 'in no EndpointSlice'}",
            f"a ready endpoint in an EndpointSlice labelled {SERVICE_NAME_LABEL}={snap.name}",
        )
        for p in missing[:5]
    ]
    kcm = (
        "kubectl -n kube-system get pods -l component=kube-controller-manager\n"
        "kubectl -n kube-system get lease kube-controller-manager   # renewed recently? and --controllers "
        "must not disable endpointslice"
    )
    owners = sorted({owner_label(p) for p in missing})
    who = f"{len(missing)} of {len(ready)} ready pod{'s' if len(ready) > 1 else ''}" + (
        f" of {owners[0]}"
        if len(owners) == 1 and not owners[0].startswith("pod/")
        else f" ({', '.join(name_of(p) for p in missing[:3])}{', ...' if len(missing) > 3 else ''})"
    )
    if not snap.slices:
        message = (
            f"Service {ns}/{snap.name} selects {len(ready)} ready pod(s) but has no EndpointSlice at all: "
            "is the endpointslice controller in kube-controller-manager running?"
        )
        evidence.insert(
            0,
            Evidence("Service", ns, snap.name, "endpointslices", "none", f"EndpointSlices {selector}"),
        )
        yield endpoints_missing.finding(Severity.CRITICAL, message, kcm, evidence)
        return
    severity = Severity.CRITICAL if len(missing) == len(ready) else Severity.WARNING
    message = (
        f"Service {ns}/{snap.name}: {who} {'is' if len(missing) == 1 else 'are'} not listed as ready "
        f"endpoints in its {len(snap.slices)} EndpointSlice(s)"
    )
    if stale:
        message += f" ({len(stale)} listed as not ready although the pod is Ready)"
    message += (
        ": pods missing from the slices get no traffic; the endpointslice controller is lagging or stopped"
        if severity is Severity.WARNING
        else ": no ready pod receives traffic; is the endpointslice controller in kube-controller-manager running?"
    )
    yield endpoints_missing.finding(
        severity,
        message,
        f"kubectl -n {ns} get endpointslices {selector} -o yaml   # still missing after a minute? then:\n{kcm}",
        evidence,
    )
