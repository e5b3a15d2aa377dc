"""`kubediag audit` over object fixtures: the same chain as `svc`, summary, cluster-wide findings, outputs,
exit codes, schemas. No cluster and no mock of the API server: the objects are the input."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any, ClassVar

import jsonschema
import msgspec
import pytest
from fixtureload import build_data, chain_fixtures, load_fixture
from referencing import Registry, Resource
from rich.console import Console

from kubediag import audit
from kubediag.engine import diagnose
from kubediag.model import ClusterResult, ExitCode, Kind, Severity, Status, Unavailable
from kubediag.objects import Pod
from kubediag.render import json as render_json
from kubediag.render import junit, markdown
from kubediag.render import text as render_text
from kubediag.render.common import cause_line
from kubediag.render.json import report_dict
from kubediag.render.progress import Progress
from kubediag.schemas import load
from kubediag.snapshot import ClusterData, Snapshot

SVC_SCHEMA = load("svc-report")
AUDIT_SCHEMA = load("audit-report")
REGISTRY = Registry().with_resource(SVC_SCHEMA["$id"], Resource.from_contents(SVC_SCHEMA))
AUDIT_VALIDATOR = jsonschema.Draft202012Validator(AUDIT_SCHEMA, registry=REGISTRY)


# ---- object builders --------------------------------------------------------------------------------------
def service(ns: str, name: str, selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "type": "ClusterIP",
        "clusterIP": "10.96.0.10",
        "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        **spec,
    }
    if selector is not None:
        s["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": s}


def pod(
    ns: str, name: str, labels: dict[str, str], ip: str, ready: bool = True, node: str = "node-a"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels,
            "creationTimestamp": "2026-01-02T00:00:00Z",
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080, "name": "http"}]}],
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
        },
    }


def slice_for(ns: str, svc_name: str, pods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc_name}-x1",
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": svc_name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns},
            }
            for p in pods
        ],
    }


def node(name: str, external: str | None = None) -> dict[str, Any]:
    addresses = [{"type": "InternalIP", "address": "10.0.0.10"}]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"addresses": addresses, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def healthy(ns: str, name: str, ip_base: str) -> list[dict[str, Any]]:
    pods = [pod(ns, f"{name}-{i}", {"app": name}, f"{ip_base}.{i + 1}") for i in range(2)]
    return [service(ns, name, {"app": name}), *pods, slice_for(ns, name, pods)]


def cluster_objects() -> list[dict[str, Any]]:
    """shop: web healthy, api selects nothing (broken), cart no pods ready (broken), admin NodePort.
    blog: site healthy, two LoadBalancers; kube-system: a headless Service without ports; legacy: excluded."""
    objs: list[dict[str, Any]] = [node("node-a"), node("node-b")]
    objs += [namespace(n) for n in ("shop", "blog", "kube-system", "legacy")]
    objs += healthy("shop", "web", "10.244.1")
    objs += [
        service("shop", "api", {"app": "api-server"}),
        pod("shop", "api-1", {"app": "apiserver"}, "10.244.1.9"),
    ]
    cart = [pod("shop", f"cart-{i}", {"app": "cart"}, f"10.244.1.2{i}", ready=False) for i in range(2)]
    objs += [service("shop", "cart", {"app": "cart"}), *cart]
    admin = healthy("shop", "admin", "10.244.4")
    admin[0]["spec"]["type"] = "NodePort"
    admin[0]["spec"]["ports"][0]["nodePort"] = 30080
    objs += admin
    objs += healthy("blog", "site", "10.244.2")
    for i, name in enumerate(("lb-a", "lb-b")):
        lb = healthy("blog", name, f"10.244.{5 + i}")
        lb[0]["spec"]["type"] = "LoadBalancer"
        lb[0]["spec"]["ports"][0]["nodePort"] = 31000 + i
        lb[0]["status"] = {"loadBalancer": {"ingress": [{"ip": f"198.51.100.{i + 1}"}]}}
        objs += lb
    dns = [pod("kube-system", "dns-1", {"app": "dns"}, "10.244.8.1")]
    portless = slice_for("kube-system", "portless", dns)
    portless["ports"] = []
    objs += [service("kube-system", "portless", {"app": "dns"}, clusterIP="None", ports=[]), *dns, portless]
    objs += [service("legacy", "old", {"app": "gone"})]
    return objs


def data(objects: list[dict[str, Any]] | None = None, **forbidden: str) -> ClusterData:
    """The objects as read; `pods="list pods in namespace shop"` makes pods forbidden with that permission."""
    d = build_data(objects if objects is not None else cluster_objects())
    missing = {Kind(k): Unavailable(Kind(k), "forbidden", v) for k, v in forbidden.items()}
    return replace(d, read=d.read - frozenset(missing), unavailable=missing)


def result(d: ClusterData | None = None, scope: audit.Scope | None = None) -> audit.AuditResult:
    return audit.run(
        d or data(),
        scope or audit.Scope(exclude=frozenset({"legacy"})),
        server="https://127.0.0.1:6443",
        version="v1.36.3",
        generated_at="2026-11-21T12:00:00Z",
    )


def by_key(res: audit.AuditResult) -> dict[str, Any]:
    return {f"{r.namespace}/{r.name}": r for r in res.reports}


# ---- the chain is the svc chain ---------------------------------------------------------------------------
def test_each_service_report_is_exactly_the_svc_report() -> None:
    d = data()
    res = result(d)
    assert [f"{r.namespace}/{r.name}" for r in res.reports] == sorted(by_key(res))
    for r in res.reports:
        assert report_dict(r) == report_dict(diagnose(Snapshot(r.namespace, r.name, d)))
    doc = render_json.audit_dict(res)
    for entry, r in zip(doc["services"], res.reports, strict=True):
        assert entry == report_dict(r)


@pytest.mark.parametrize("path", chain_fixtures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_audit_of_every_check_fixture_matches_svc(path: Any) -> None:
    """Every check fixture through audit: the target's entry equals `svc`'s report on the same objects."""
    fx = load_fixture(path)
    snap = fx.snapshot
    res = audit.run(snap.data, audit.Scope())
    if snap.client is not None or snap.service is None:
        return  # --from and missing Services are svc-only situations
    entry = by_key(res)[f"{snap.namespace}/{snap.name}"]
    assert report_dict(entry) == report_dict(diagnose(Snapshot(snap.namespace, snap.name, snap.data)))
    AUDIT_VALIDATOR.validate(render_json.audit_dict(res) | {"generated_at": "2026-01-01T00:00:00Z"})


def test_statuses_and_root_causes() -> None:
    res = by_key(result())
    assert res["shop/web"].status is Status.HEALTHY
    assert res["shop/api"].status is Status.BROKEN
    assert res["shop/api"].root_cause.category.value == "selector-no-match"
    assert res["shop/cart"].status is Status.BROKEN
    assert res["shop/cart"].root_cause.category.value == "pods-not-ready"
    assert "legacy/old" not in res


# ---- scope ------------------------------------------------------------------------------------------------
def test_scope_namespaces_and_exclusions() -> None:
    d = data()
    only_shop = audit.run(d, audit.Scope(namespaces=("shop",)))
    assert {r.namespace for r in only_shop.reports} == {"shop"}
    both = audit.run(d, audit.Scope(namespaces=("shop", "blog"), exclude=frozenset({"blog"})))
    assert {r.namespace for r in both.reports} == {"shop"}
    everything = audit.run(d, audit.Scope())
    assert "legacy/old" in by_key(everything)
    assert audit.Scope(namespaces=("a", "b"), exclude=frozenset({"c"}), label_selector="x=y").as_dict() == {
        "all_namespaces": False,
        "namespaces": ["a", "b"],
        "excluded_namespaces": ["c"],
        "label_selector": "x=y",
    }


@pytest.mark.parametrize(
    "selector",
    [
        "app=web",
        "app==web",
        "app!=web",
        "app",
        "!app",
        "tier in (a, b)",
        "tier notin (a)",
        "app=web,tier in (a,b),!legacy",
        "example.com/team=x",
        "app=",
        "replicas>3",
    ],
)
def test_valid_label_selectors(selector: str) -> None:
    assert audit.label_selector_error(selector) is None


@pytest.mark.parametrize("selector", ["", "app=we b", "=web", "app in a,b", "app=web,", "a/b/c=x", "app=-x"])
def test_invalid_label_selectors(selector: str) -> None:
    assert audit.label_selector_error(selector)


# ---- summary ----------------------------------------------------------------------------------------------
def test_summary_counts_per_namespace_and_root_causes() -> None:
    s = audit.summary(result())
    assert s["services"] == 8
    assert s["status"] == {"healthy": 6, "degraded": 0, "broken": 2, "unknown": 0}
    assert s["namespaces"]["shop"] == {"healthy": 2, "degraded": 0, "broken": 2, "unknown": 0}
    assert s["namespaces"]["blog"]["healthy"] == 3
    assert s["worst"] == "broken"
    cats = [c["category"] for c in s["root_causes"]]
    assert set(cats) == {"selector-no-match", "pods-not-ready"}
    assert s["incomplete"] is False
    assert s["missing_permissions"] == [] and s["errors"] == []


def test_most_frequent_root_cause_first() -> None:
    objs = [service("a", f"s{i}", {"app": f"nothing-{i}"}) for i in range(3)]
    objs += healthy("a", "ok", "10.244.9")
    cart = [pod("a", "c-1", {"app": "c"}, "10.244.8.1", ready=False)]
    objs += [service("a", "c", {"app": "c"}), *cart]
    s = audit.summary(audit.run(data(objs), audit.Scope()))
    assert s["root_causes"][0] == {"category": "selector-no-match", "count": 3}
    assert s["root_causes"][1] == {"category": "pods-not-ready", "count": 1}


# ---- cluster-wide findings --------------------------------------------------------------------------------
def cluster(res: audit.AuditResult) -> dict[str, ClusterResult]:
    return {c.id: c for c in res.cluster}


def test_loadbalancer_count() -> None:
    c = cluster(result())["KDA01"]
    assert c.outcome == "failed" and c.severity is Severity.WARNING
    assert c.message.startswith("2 LoadBalancer Services")
    assert set(c.objects) == {"blog/lb-a", "blog/lb-b"}
    assert "Ingress" in c.remediation and "Gateway" in c.remediation
    one = audit.run(data(healthy("x", "only", "10.244.7")), audit.Scope())
    assert cluster(one)["KDA01"].outcome == "passed"
    assert cluster(one)["KDA01"].message.startswith("0 LoadBalancer")


def test_nodeport_on_nodes_with_external_addresses() -> None:
    assert cluster(result())["KDA02"].outcome == "passed"  # no node has an ExternalIP
    objs = [*cluster_objects(), node("node-pub", external="203.0.113.7")]
    c = cluster(result(data(objs)))["KDA02"]
    assert c.outcome == "failed" and c.severity is Severity.WARNING
    assert "shop/admin" in c.objects and "node/node-pub" in c.objects
    assert "203.0.113.7:30080" in c.message
    # LoadBalancer Services are counted by KDA01, not here
    assert "blog/lb-a" not in c.objects


def test_nodeport_check_skipped_when_nodes_forbidden() -> None:
    c = cluster(result(data(nodes="list nodes (cluster-wide)")))["KDA02"]
    assert c.outcome == "skipped"
    assert "list nodes (cluster-wide)" in c.reason


def test_services_without_ports() -> None:
    c = cluster(result())["KDA03"]
    assert c.outcome == "failed" and c.objects == ("kube-system/portless",)
    ext = service("x", "ext", None, type="ExternalName", externalName="db.example.com", ports=[])
    assert cluster(audit.run(data([ext]), audit.Scope()))["KDA03"].outcome == "passed"


# ---- forbidden kinds: skipped with the permission named, the rest runs, incomplete -------------------------
def test_forbidden_networkpolicies_skip_only_their_checks() -> None:
    perm = "list networkpolicies in namespace shop"
    full = result()
    res = result(data(networkpolicies=perm))
    assert res.incomplete
    s = audit.summary(res)
    assert s["incomplete"] is True
    assert s["missing_permissions"] == [perm]
    assert s["errors"][0]["kind"] == "networkpolicies"
    assert {"KD601", "KD602", "KD603"} <= set(s["errors"][0]["checks_skipped"])
    for r in res.reports:
        before = by_key(full)[f"{r.namespace}/{r.name}"]
        assert r.status is before.status
        netpol = [c for c in r.results if Kind.NETWORKPOLICY in _needs(c.check_id)]
        assert netpol and all(c.outcome.value == "skipped" and perm in c.reason for c in netpol)
    AUDIT_VALIDATOR.validate(render_json.audit_dict(res))
    out = io.StringIO()
    render_text.audit(res, Console(file=out, width=200, no_color=True))
    assert "Incomplete audit" in out.getvalue() and perm in out.getvalue()
    assert "Incomplete audit" in markdown.audit(res)


def _needs(check_id: str) -> frozenset[Kind]:
    from kubediag.checks.base import get_check

    chk = get_check(check_id)
    assert chk is not None
    return chk.needs


def test_pods_forbidden_makes_every_service_unknown_and_exit_4() -> None:
    res = result(data(pods="list pods in namespaces blog, shop"))
    assert {r.status for r in res.reports} == {Status.UNKNOWN}
    assert audit.exit_code(res) is ExitCode.UNKNOWN
    line = cause_line(res.reports[0])
    assert line.startswith("status unknown:") and "list pods in namespaces blog, shop" in line


def test_services_forbidden_is_unknown_even_with_nothing_listed() -> None:
    res = audit.run(data([], services="list services (cluster-wide)"), audit.Scope())
    assert res.reports == ()
    assert audit.exit_code(res) is ExitCode.UNKNOWN
    out = io.StringIO()
    render_text.audit(res, Console(file=out, width=200, no_color=True))
    assert "Services could not be listed: forbidden: list services (cluster-wide)" in out.getvalue()
    assert "No Service in scope" not in out.getvalue()


# ---- exit codes -------------------------------------------------------------------------------------------
def test_exit_codes_on_the_worst_service() -> None:
    assert audit.exit_code(result()) is ExitCode.FINDINGS
    ok = audit.run(data(healthy("x", "a", "10.244.7")), audit.Scope())
    assert audit.exit_code(ok) is ExitCode.OK
    assert audit.exit_code(audit.run(data([]), audit.Scope())) is ExitCode.OK  # nothing in scope
    lb = healthy("x", "lb", "10.244.6")
    lb[0]["spec"]["type"] = "LoadBalancer"  # pending: a warning only
    degraded = audit.run(data(lb), audit.Scope())
    assert degraded.reports[0].status is Status.DEGRADED
    assert audit.exit_code(degraded) is ExitCode.OK
    assert audit.exit_code(degraded, Severity.WARNING) is ExitCode.FINDINGS


# ---- outputs ----------------------------------------------------------------------------------------------
def test_json_is_schema_valid_and_has_the_contract_keys() -> None:
    doc = json.loads(render_json.audit(result()))
    AUDIT_VALIDATOR.validate(doc)
    assert list(doc) == ["schema_version", "generated_at", "cluster", "scope", "summary", "services"]
    assert doc["cluster"] == {"server": "https://127.0.0.1:6443", "version": "v1.36.3"}
    for entry in doc["services"]:
        jsonschema.validate(entry, SVC_SCHEMA)


def test_json_written_in_pieces_is_the_whole_document_formatted() -> None:
    """`audit -o json` is written one Service at a time: byte for byte what formatting the whole dict gives,
    with nested empty lists and dicts, non-ASCII and control characters, one Service and none."""
    from kubediag.jsontext import dumps

    odd = healthy("caf\u00e9", "w\u00e9b\U0001f600", "10.244.9")
    odd[0]["metadata"]["labels"] = {"note": "line\nbreak \x1b \"q\" \u2028"}
    cases = [result(), result(data(odd)), result(data([])), result(data(healthy("x", "one", "10.244.8")))]
    for res in cases:
        assert render_json.audit(res) == dumps(render_json.audit_dict(res), indent=2)
        assert "".join(render_json.audit_chunks(res)) == render_json.audit(res)
    assert not cases[2].reports and len(cases[3].reports) == 1


def test_schema_rejects_a_service_entry_that_is_not_a_svc_report() -> None:
    doc = json.loads(render_json.audit(result()))
    doc["services"][0].pop("checks")
    with pytest.raises(jsonschema.ValidationError):
        AUDIT_VALIDATOR.validate(doc)


def test_jsonl_one_svc_report_per_line() -> None:
    res = result()
    lines = list(render_json.audit_lines(res))
    assert len(lines) == len(res.reports)
    for line, r in zip(lines, res.reports, strict=True):
        assert "\n" not in line
        doc = json.loads(line)
        jsonschema.validate(doc, SVC_SCHEMA)
        assert doc == report_dict(r)


def test_junit_one_testcase_per_service() -> None:
    res = result(data(nodes="list nodes (cluster-wide)"))
    root = ET.fromstring(junit.audit(res))
    cases = root.findall(".//testcase")
    assert len(cases) == len(res.reports) == int(root.get("tests", "0"))
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert ("kubediag.shop", "api") in names
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"api", "cart"}
    assert root.get("failures") == "2" and root.get("errors") == "0"
    api = next(c for c in cases if c.get("name") == "api")
    failure = api.find("failure")
    assert failure is not None and failure.get("type") == "selector-no-match"
    assert {s.get("name") for s in root.findall("testsuite")} == {"blog", "kube-system", "shop"}


def test_junit_unknown_is_an_error_and_warnings_follow_fail_on() -> None:
    unknown = result(data(endpointslices="list endpointslices (cluster-wide)"))
    root = ET.fromstring(junit.audit(unknown))
    assert root.get("errors") == str(len(unknown.reports))
    lb = healthy("x", "lb", "10.244.6")
    lb[0]["spec"]["type"] = "LoadBalancer"
    degraded = audit.run(data(lb), audit.Scope())
    assert ET.fromstring(junit.audit(degraded)).get("failures") == "0"
    assert ET.fromstring(junit.audit(degraded, Severity.WARNING)).get("failures") == "1"


def test_untrusted_text_is_escaped_everywhere() -> None:
    evil = "\x1b[31mred\x07"
    objs = [service("shop", "web", {"app": evil})]
    res = audit.run(data(objs), audit.Scope())
    out = io.StringIO()
    render_text.audit(res, Console(file=out, width=300, force_terminal=True, color_system=None))
    assert "\x1b[31mred" not in out.getvalue() and "\\x1b[31mred" in out.getvalue()
    assert "\x1b" not in markdown.audit(res)
    xml = junit.audit(res)
    assert "\x1b" not in xml and "\x07" not in xml
    ET.fromstring(xml)  # well-formed


def test_text_summary_and_one_line_per_unhealthy_service() -> None:
    out = io.StringIO()
    render_text.audit(result(), Console(file=out, width=250, no_color=True))
    text = out.getvalue()
    assert "6 healthy · 0 degraded · 2 broken · 0 unknown" in text
    assert "shop" in text and "blog" in text
    assert "Most frequent root causes" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("  BROKEN")]
    assert len(lines) == 2
    assert any("shop/api" in ln and "KD201 selector-no-match" in ln for ln in lines)
    assert "shop/web " not in text  # healthy Services get no line
    assert "KDA01" in text and "2 LoadBalancer Services" in text


def test_markdown_summary() -> None:
    md = markdown.audit(result())
    assert "| shop | 2 | 0 | 2 | 0 |" in md
    assert "| broken | shop/api | KD201 selector-no-match" in md
    assert "KDA01" in md


def test_empty_scope_renders() -> None:
    res = audit.run(data([]), audit.Scope(namespaces=("nothing",)))
    out = io.StringIO()
    render_text.audit(res, Console(file=out, width=120, no_color=True))
    assert "No Service in scope." in out.getvalue()
    AUDIT_VALIDATOR.validate(render_json.audit_dict(res) | {"generated_at": "2026-01-01T00:00:00Z"})
    assert ET.fromstring(junit.audit(res)).get("tests") == "0"


def test_progress_is_silent_when_not_a_tty() -> None:
    stream = io.StringIO()
    with Progress(stream) as p:
        p.on_page(Kind.POD, 500)
        p.start_diagnosis(3)
        p.on_service()
    assert stream.getvalue() == ""


# ---- scale: O(services + pods) ----------------------------------------------------------------------------
class Counted(Pod, frozen=True):
    """A pod that counts how often the checks look at it (deterministic, unlike a timer)."""

    touches: ClassVar[int] = 0

    def __getattribute__(self, key: str) -> Any:
        if key in ("metadata", "spec", "status"):
            Counted.touches += 1
        return super().__getattribute__(key)


def synthetic(
    services: int, pods_per_service: int, namespaces: int = 20, counted: bool = False
) -> ClusterData:
    objs: list[dict[str, Any]] = [node(f"node-{i}") for i in range(5)]
    for i in range(services):
        ns = f"ns-{i % namespaces}"
        name = f"svc-{i}"
        pods = [
            pod(
                ns,
                f"{name}-{j}",
                {"app": name, "tier": "web"},
                f"10.{i // 250}.{i % 250}.{j + 1}",
                node=f"node-{j % 5}",
            )
            for j in range(pods_per_service)
        ]
        slc = slice_for(ns, name, pods)
        objs += [service(ns, name, {"app": name, "tier": "web"}), *pods, slc]
    data = build_data(objs)
    if counted:
        pods = tuple(msgspec.convert(msgspec.to_builtins(p), Counted) for p in data.pods)
        data = replace(data, objects={**data.objects, Kind.POD: pods})
    return data


def test_1000_services_10000_pods() -> None:
    # correctness at scale; its speed is measured by `make bench`, not asserted here
    big = synthetic(1000, 10)
    res = audit.run(big, audit.Scope())
    json.dumps(render_json.audit_dict(res))
    assert len(res.reports) == 1000 and all(r.status is Status.HEALTHY for r in res.reports)


def _touches(services: int, per_namespace: int | None) -> int:
    d = synthetic(services, 10, services // per_namespace if per_namespace else 1, counted=True)
    Counted.touches = 0
    audit.run(d, audit.Scope())
    return Counted.touches


@pytest.mark.parametrize(
    "per_namespace",
    [
        pytest.param(5, id="5-services-per-namespace"),
        pytest.param(None, id="one-namespace"),
    ],
)
def test_pod_reads_grow_linearly(per_namespace: int | None) -> None:
    """4x the Services and pods: the checks read pods about 4x as often, not 16x (no services x pods loop)."""
    small, big = _touches(30, per_namespace), _touches(120, per_namespace)
    assert big < 5 * small, f"pod reads: 30 Services {small}, 120 Services {big} ({big / small:.1f}x)"


def test_unavailable_record_shapes() -> None:
    res = result(data(events="list events in namespace shop"))
    err = audit.summary(res)["errors"][0]
    assert err["reason"] == "forbidden" and "KD802" in err["checks_skipped"]  # KD802 needs events
