"""`audit -o prometheus` and `--pushgateway`: the metrics of an audit through prometheus_client, parsed back
with the library's own parser; label values from fixed vocabularies only; the push protocol against a local
HTTP server standing in for the Pushgateway (the real one is in e2e/test_pushgateway_e2e.py)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_audit import data, node, result
from test_cli import kd

from kubediag.checks.base import all_checks
from kubediag.model import Category, Kind, Status
from kubediag.render import prometheus
from kubediag.render.prometheus import RunStats

STATS = RunStats(duration_seconds=1.5, requests=9, finished_at=1_790_000_000.0)


def series(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def test_one_status_series_per_service() -> None:
    res = result()
    got = series(prometheus.audit(res, STATS))
    status = {(lb["namespace"], lb["service"]): lb for lb, v in got["kubediag_service_status"] if v == 1}
    assert len(got["kubediag_service_status"]) == len(res.reports) == len(status)
    assert status["shop", "api"] == {
        "namespace": "shop",
        "service": "api",
        "status": "broken",
        "category": "selector-no-match",
        "check_id": "KD201",
    }
    assert status["shop", "cart"]["category"] == "pods-not-ready"
    assert status["shop", "web"] == {
        "namespace": "shop",
        "service": "web",
        "status": "healthy",
        "category": "",
        "check_id": "",
    }


def test_counts_run_figures_and_cluster_checks() -> None:
    got = series(prometheus.audit(result(), STATS))
    assert {lb["status"]: v for lb, v in got["kubediag_services"]} == {
        "healthy": 6,
        "degraded": 0,
        "broken": 2,
        "unknown": 0,
    }
    causes = {lb["category"]: v for lb, v in got["kubediag_root_causes"]}
    assert causes["selector-no-match"] == 1 and causes["pods-not-ready"] == 1
    assert sum(causes.values()) == 2 and "loadbalancer-per-service" not in causes  # a cluster-wide category
    assert got["kubediag_audit_duration_seconds"] == [({}, 1.5)]
    assert got["kubediag_audit_api_requests"] == [({}, 9)]
    assert got["kubediag_audit_last_success_timestamp_seconds"] == [({}, 1_790_000_000.0)]
    assert got["kubediag_audit_incomplete"] == [({}, 0)]
    assert "kubediag_audit_unavailable" not in got
    cluster = {lb["check_id"]: lb for lb, _ in got["kubediag_cluster_check"]}
    assert cluster["KDA01"] == {
        "check_id": "KDA01",
        "category": "loadbalancer-per-service",
        "outcome": "failed",
    }
    assert cluster["KDA03"]["outcome"] == "failed" and cluster["KDA02"]["outcome"] == "passed"


def test_incomplete_run() -> None:
    got = series(prometheus.audit(result(data(networkpolicies="list networkpolicies (cluster-wide)")), STATS))
    assert got["kubediag_audit_incomplete"] == [({}, 1)]
    assert got["kubediag_audit_unavailable"] == [({"kind": "networkpolicies", "reason": "forbidden"}, 1)]


def test_no_label_carries_free_text() -> None:
    """Every label value is a DNS name of the scope or a member of a fixed vocabulary."""
    res = result(data(nodes="list nodes (cluster-wide)"))
    vocab = {
        "status": {s.value for s in Status},
        "category": {c.value for c in Category} | {""},
        "check_id": {c.id for c in all_checks()} | {""},
        "outcome": {"passed", "failed", "skipped"},
        "kind": {k.value for k in Kind},
        "reason": {"forbidden", "error"},
    }
    dns = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
    for samples in series(prometheus.audit(res, STATS)).values():
        for labels, _ in samples:
            for key, value in labels.items():
                if key in ("namespace", "service"):
                    assert dns.fullmatch(value), (key, value)
                else:
                    assert value in vocab[key], (key, value)


def test_cardinality_is_bounded_by_the_services() -> None:
    one = series(prometheus.audit(result(), STATS))
    objs = [node("node-a")]
    from test_audit import healthy

    for i in range(40):
        objs += healthy("bulk", f"s{i}", f"10.245.{i}")
    many = series(prometheus.audit(result(data(objs)), STATS))
    assert len(many["kubediag_service_status"]) == 40
    for name in one:
        if name != "kubediag_service_status":
            assert len(many.get(name, [])) <= max(len(one[name]), len(list(Category)))


# ---- the push protocol ---------------------------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, bytes]]] = []
    status = 200

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).calls.append(("PUT", self.path, body))
        self.send_response(type(self).status)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    _Recorder.calls, _Recorder.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_push_replaces_the_cluster_group(gateway: str) -> None:
    prometheus.push(gateway, "prod-eu", result(), STATS)
    [(method, path, body)] = _Recorder.calls
    assert (method, path) == (
        "PUT",
        "/metrics/job/kubediag/cluster/prod-eu",
    )  # PUT: the whole group is replaced
    assert series(body.decode()) == series(prometheus.audit(result(), STATS))


def test_push_error_raises(gateway: str) -> None:
    _Recorder.status = 500
    with pytest.raises(Exception, match="500"):
        prometheus.push(gateway, "prod", result(), STATS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster-name", "prod"], "--cluster-name names the Pushgateway group"),
        (["--pushgateway", "http://127.0.0.1:9091"], "--pushgateway needs --cluster-name"),
        (["--pushgateway", "ftp://127.0.0.1", "--cluster-name", "p"], "invalid --pushgateway"),
        (["--pushgateway", "127.0.0.1:9091", "--cluster-name", "p"], "invalid --pushgateway"),
        (["--pushgateway", "http://127.0.0.1:9091", "--cluster-name", "a b"], "invalid --cluster-name"),
    ],
)
def test_push_flags_are_checked_before_any_request(args: list[str], message: str) -> None:
    out = kd("audit", "-n", "shop", *args)
    assert out.returncode == 2, out
    assert out.stderr.count("\n") == 1 and message in out.stderr


def test_pushgateway_overlay_adds_only_the_push_to_the_base() -> None:
    """deploy/overlays/pushgateway renders to deploy/base with the CronJob's audit pushing; the arguments
    pass kubediag's own validation."""
    from test_rbac import BASE, DEPLOY, kustomize

    from kubediag.cli import _validate_push

    base, pushing = kustomize(BASE), kustomize(DEPLOY / "overlays" / "pushgateway")
    assert [(d["kind"], d["metadata"]["name"]) for d in base] == [
        (d["kind"], d["metadata"]["name"]) for d in pushing
    ]
    for b, p in zip(base, pushing, strict=True):
        if b["kind"] != "CronJob":
            assert b == p
    args_of = lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]  # noqa: E731
    [cron_base] = [d for d in base if d["kind"] == "CronJob"]
    [cron] = [d for d in pushing if d["kind"] == "CronJob"]
    args = args_of(cron)
    assert args[: len(args_of(cron_base))] == args_of(cron_base)
    extra = args[len(args_of(cron_base)) :]
    assert extra[0] == "--pushgateway" and extra[2] == "--cluster-name"
    _validate_push(extra[1], extra[3])  # raises on a bad URL or name
