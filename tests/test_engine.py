"""The chain: order, root cause, suppression of symptoms, status and exit codes, JSON Schema validity."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fixtureload import build_data, chain_fixtures, load_fixture

from kubediag.cli import FailOn, exit_code_for
from kubediag.engine import Report, diagnose
from kubediag.model import ExitCode, Outcome, Severity, Stage, Status
from kubediag.render.json import report_dict
from kubediag.render.markdown import report as to_markdown
from kubediag.schemas import load
from kubediag.snapshot import Snapshot

SCHEMA = load("svc-report")


def svc(name: str = "web", selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], **spec}
    if selector is not None:
        s["selector"] = selector
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"clusterIP": "10.96.0.10", "type": "ClusterIP", **s},
    }


def pod(
    name: str, labels: dict[str, str], ready: bool = True, ip: str = "10.244.0.9", **status: Any
) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": labels,
            "creationTimestamp": "2026-01-02T00:00:00Z",
        },
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}]}],
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
            **status,
        },
    }


def slice_for(name: str, pods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-abc",
            "namespace": "shop",
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "ports": [{"port": 8080, "protocol": "TCP", "name": ""}],
        "endpoints": [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "shop"},
            }
            for p in pods
        ],
    }


def run(objects: list[dict[str, Any]], name: str = "web", **unavailable: str) -> Any:
    return diagnose(Snapshot("shop", name, build_data(objects, unavailable or None)))


def test_healthy_service() -> None:
    pods = [pod("web-1", {"app": "web"}, ip="10.244.0.1"), pod("web-2", {"app": "web"}, ip="10.244.0.2")]
    report = run([svc(selector={"app": "web"}), *pods, slice_for("web", pods)])
    assert report.status is Status.HEALTHY, [f.message for f in report.findings]
    assert report.root_cause is None
    assert exit_code_for(report.status, report.worst, FailOn.critical) is ExitCode.OK
    assert all(r.outcome is not Outcome.FAILED for r in report.results)


def test_missing_service_is_the_root_and_nothing_else_runs() -> None:
    report = run([pod("web-1", {"app": "web"})])
    assert report.status is Status.BROKEN
    assert report.root_cause is not None and report.root_cause.category.value == "service-not-found"
    assert [r.check_id for r in report.results if r.outcome is not Outcome.SKIPPED] == ["KD101"]


def test_first_failing_link_is_root_and_dependent_checks_are_suppressed() -> None:
    # selector misses the pods: pods/endpoints/ports checks must not pile on as separate causes
    report = run([svc(selector={"app": "front-end"}), pod("web-1", {"app": "frontend"})])
    assert report.status is Status.BROKEN
    assert report.root_cause is not None and report.root_cause.check_id == "KD201"
    criticals = [f for f in report.findings if f.severity is Severity.CRITICAL]
    assert [f.check_id for f in criticals] == ["KD201"]
    later = [r for r in report.results if r.stage.order > Stage.SELECTION.order]
    assert all(r.outcome is Outcome.SKIPPED for r in later if r.check_id < "KD800")


def test_a_later_failure_is_reported_as_following_from_the_root() -> None:
    # the targetPort is wrong (KD502) and a deny-all policy would also fail KD601: one root cause
    pods = [pod("web-1", {"app": "web"})]
    bad_port = svc(selector={"app": "web"}, ports=[{"port": 80, "targetPort": 9999, "protocol": "TCP"}])
    deny_all = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    report = run([bad_port, *pods, slice_for("web", pods), deny_all])
    assert report.root_cause is not None and report.root_cause.check_id == "KD502"
    kd601 = next(r for r in report.results if r.check_id == "KD601")
    assert kd601.outcome is Outcome.SKIPPED
    assert kd601.reason == "follows from the root cause KD502"
    alone = run([svc(selector={"app": "web"}), *pods, slice_for("web", pods), deny_all])
    assert alone.root_cause is not None and alone.root_cause.check_id == "KD601"  # it does fail on its own


def test_unknown_when_pods_could_not_be_read() -> None:
    report = run([svc(selector={"app": "web"})], pods="forbidden: list pods in namespace shop")
    assert report.status is Status.UNKNOWN
    assert report.root_cause is None or report.root_cause.category.value != "selector-no-match"
    assert all(f.category.value != "selector-no-match" for f in report.findings)
    assert exit_code_for(report.status, report.worst, FailOn.critical) is ExitCode.UNKNOWN
    assert any("list pods in namespace shop" in r.reason for r in report.skipped)


def test_optional_kind_forbidden_skips_only_its_checks() -> None:
    pods = [pod("web-1", {"app": "web"})]
    report = run(
        [svc(selector={"app": "web"}), *pods, slice_for("web", pods)],
        networkpolicies="forbidden: list networkpolicies in namespace shop",
    )
    assert report.status is Status.HEALTHY
    assert report.incomplete
    skipped = {r.check_id: r.reason for r in report.skipped}
    assert any("list networkpolicies in namespace shop" in reason for reason in skipped.values())


def test_fail_on_warning() -> None:
    assert exit_code_for(Status.DEGRADED, Severity.WARNING, FailOn.critical) is ExitCode.OK
    assert exit_code_for(Status.DEGRADED, Severity.WARNING, FailOn.warning) is ExitCode.FINDINGS
    assert exit_code_for(Status.BROKEN, Severity.CRITICAL, FailOn.critical) is ExitCode.FINDINGS
    assert exit_code_for(Status.HEALTHY, Severity.INFO, FailOn.warning) is ExitCode.OK


@pytest.mark.parametrize("path", chain_fixtures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_report_is_schema_valid(path: Any) -> None:
    fx = load_fixture(path)
    report = diagnose(fx.snapshot)
    doc = report_dict(report)
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] in {"healthy", "degraded", "broken", "unknown"}
    md = to_markdown(report)
    assert f"`{fx.snapshot.namespace}/{fx.snapshot.name}`" in md


def _together_equals_alone(objects: list[dict[str, Any]], names: list[str]) -> list[Report]:
    """The reports of Services `names` diagnosed one after another over one shared ClusterData, asserted
    equal to each diagnosed alone over fresh data."""
    shared = build_data(objects, None)
    together = [diagnose(Snapshot("shop", n, shared)) for n in names]
    assert together == [diagnose(Snapshot("shop", n, build_data(objects, None))) for n in names]
    return together


def test_reports_over_shared_data_equal_reports_over_fresh_data() -> None:
    # the engine decides per data what does not depend on the Service and shares immutable results between
    # reports: Services diagnosed one after another over one ClusterData (audit) get exactly the reports
    # they get alone, whatever their root causes and in whatever order
    web_pods = [pod("web-1", {"app": "web"})]
    api_pods = [pod("api-1", {"app": "api"}, ip="10.244.0.7")]
    objects = [
        svc("web", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 9999, "protocol": "TCP"}]),
        svc("api", selector={"app": "apii"}),
        svc("ok", selector={"app": "web"}),
        *web_pods,
        *api_pods,
        slice_for("web", web_pods),
        slice_for("ok", web_pods),
    ]
    names = ["web", "api", "ok", "gone", "api", "web", "gone", "ok"]
    together = _together_equals_alone(objects, names)
    roots = {n: r.root_cause.check_id if r.root_cause else None for n, r in zip(names, together, strict=True)}
    assert roots == {"web": "KD502", "api": "KD201", "ok": None, "gone": "KD101"}
    for n, r in zip(names, together, strict=True):
        follows = {x.reason for x in r.results if x.reason.startswith("follows from")}
        assert follows <= {f"follows from the root cause {roots[n]}"}


def test_services_sharing_a_selector_over_shared_data_equal_fresh_data() -> None:
    # the selected pods are classified once per (namespace, selector) and data (ready, serving, live, by
    # name) and shared by every Service of that selection: Services that share a selector but differ in ports,
    # type or slices, and a Service whose selector differs only in key order or in one pair, get exactly the
    # reports they get alone, in any order
    mix = {"app": "mix", "tier": "web"}
    pods = [
        pod("mix-c", mix),
        pod("mix-a", mix, ready=False),
        pod("mix-b", mix, phase="Succeeded"),
        pod("mix-d", mix, ip=""),
        pod("mix-e", {"app": "mix", "tier": "db"}),
    ]
    objects = [
        svc("one", selector=mix),
        svc("two", selector={"tier": "web", "app": "mix"}, ports=[{"port": 81, "targetPort": 9090, "protocol": "TCP"}]),
        svc("three", selector={"app": "mix"}, type="NodePort"),
        svc("four", selector=mix, externalTrafficPolicy="Local", type="NodePort"),
        *pods,
        slice_for("one", pods[:1]),
        slice_for("three", pods),
    ]
    names = ["one", "two", "three", "four", "two", "one", "four", "three"]
    together = _together_equals_alone(objects, names)
    assert together[::-1] == _together_equals_alone(objects, names[::-1])


def test_a_declared_precondition_skips_exactly_as_the_check_would() -> None:
    # a check's `applies` is its first precondition: the engine asks it instead of calling the check, and
    # must get the result the check itself gives (its function tests `applies` first, then runs its body)
    import dataclasses

    from kubediag.checks.base import ordered_checks

    chain = ordered_checks()
    assert any(c.applies is not None for c in chain)
    plain = [dataclasses.replace(c, applies=None) for c in chain]  # the engine calls every function
    for path in chain_fixtures():
        snap = load_fixture(path).snapshot
        again = load_fixture(path).snapshot  # its own data: nothing the first run memoised is shared
        assert diagnose(snap, chain) == diagnose(again, plain), path
