"""`kubediag audit --pushgateway` against a real Pushgateway, built from its Go module
(github.com/prometheus/pushgateway, pinned in e2e/build.sh) into the cache and started on 127.0.0.1: an audit of
scenario namespaces on the local control plane is pushed, scraped back from the Pushgateway and parsed with
prometheus_client's parser; the series of the known broken scenarios must be there, with job and cluster."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scenarios import Scenario, cleanup_all, load_all, seed_all, settle
from test_audit_support import run_kubediag

from kubediag.checks.base import ordered_checks

ROOT = Path(__file__).resolve().parent.parent
# broken (and one degraded) Services the scenario suite seeds, each in its own namespace kd-pg-<name>
PICKED = ("selector-typo", "crashloop", "not-ready", "target-port-not-exposed", "healthy-nodeport")
CLUSTER = "kd-e2e"


def _direct() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def _get(url: str) -> tuple[int, str]:
    try:
        with _direct().open(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except OSError as exc:
        return 0, str(exc)


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build (only when missing, as `make test` does) and start a Pushgateway on a free loopback port."""
    build = subprocess.run(
        [str(ROOT / "e2e" / "build.sh"), "pushgateway"], capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stderr
    binary = build.stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("pushgateway") / "pushgateway.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while _get(f"{url}/-/ready")[0] != 200:
        assert proc.poll() is None and time.monotonic() < deadline, "the Pushgateway did not become ready"
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def scenarios(cluster: str) -> Iterator[list[Scenario]]:
    """The picked scenarios, seeded into namespaces of their own (the scenario suite keeps kd-<name>)."""
    picked = [replace(sc, namespace=f"kd-pg-{sc.name}"[:63]) for sc in load_all() if sc.name in PICKED]
    assert len(picked) == len(PICKED)
    seed_all(picked)
    for sc in picked:
        settle(sc)
    yield picked
    cleanup_all(picked)


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def test_push_scrape_and_parse(pushgateway: str, scenarios: list[Scenario]) -> None:
    args: list[str] = ["audit"]
    for sc in scenarios:
        args += ["-n", sc.namespace]
    proc = run_kubediag(*args, "-o", "prometheus", "--pushgateway", pushgateway, "--cluster-name", CLUSTER)
    assert proc.returncode == 1, proc.stderr  # broken Services: exit 1, and the push happened all the same
    written = families(proc.stdout)

    status, text = _get(f"{pushgateway}/metrics")
    assert status == 200, text
    scraped = families(text)

    services: dict[tuple[str, str], dict[str, str]] = {}
    for labels, value in scraped["kubediag_service_status"]:
        assert value == 1
        assert labels["job"] == "kubediag" and labels["cluster"] == CLUSTER, labels
        services[labels["namespace"], labels["service"]] = labels
    assert len(services) == len(scenarios)
    for sc in scenarios:
        got = services[sc.namespace, sc.service]
        assert got["status"] == sc.expect["status"], (sc.name, got)
        assert got["category"] == sc.expect["root_cause"], (sc.name, got)
        owners = {c.id for c in ordered_checks() if c.category.value == got["category"]}
        assert got["check_id"] in owners, (sc.name, got)

    def plain(samples: list[tuple[dict[str, str], float]]) -> set[tuple[tuple[str, str], ...]]:
        return {
            tuple(sorted((k, v) for k, v in lb.items() if k not in ("job", "cluster", "instance")))
            for lb, _ in samples
        }

    # what was pushed is what `-o prometheus` wrote
    assert plain(scraped["kubediag_service_status"]) == plain(written["kubediag_service_status"])
    by_status = {lb["status"]: v for lb, v in scraped["kubediag_services"]}
    assert by_status == {
        "healthy": 0,
        "degraded": sum(sc.expect["status"] == "degraded" for sc in scenarios),
        "broken": sum(sc.expect["status"] == "broken" for sc in scenarios),
        "unknown": 0,
    }
    causes = {lb["category"]: v for lb, v in scraped["kubediag_root_causes"]}
    for sc in scenarios:
        assert causes[sc.expect["root_cause"]] >= 1
    [(_, incomplete)] = scraped["kubediag_audit_incomplete"]
    assert incomplete == 0
    [(_, requests)] = scraped["kubediag_audit_api_requests"]
    # LISTs per kind and namespace (events: EVENT_QUERIES), the cluster-scoped kinds, /version and /apis:
    # never a request per Service
    from kubediag.gather import EVENT_QUERIES, OPTIONAL_CLUSTER_KINDS, SCOPE_KINDS

    per_namespace = len(SCOPE_KINDS) - 1 + len(EVENT_QUERIES)
    assert 5 <= requests <= per_namespace * len(scenarios) + len(OPTIONAL_CLUSTER_KINDS) + 2
    [(_, when)] = scraped["kubediag_audit_last_success_timestamp_seconds"]
    assert abs(when - time.time()) < 300
    cluster = {lb["check_id"]: lb["outcome"] for lb, _ in scraped["kubediag_cluster_check"]}
    assert cluster["KDA02"] == "failed"  # healthy-nodeport: a NodePort on a node with an ExternalIP
    # the Pushgateway's own record of the push for this group
    assert any(
        lb.get("cluster") == CLUSTER and lb.get("job") == "kubediag" for lb, _ in scraped["push_time_seconds"]
    )


def test_a_second_push_replaces_the_group(pushgateway: str, scenarios: list[Scenario]) -> None:
    """PUT semantics: a push of one namespace leaves only that namespace's Services in the cluster's group."""
    one = scenarios[0]
    proc = run_kubediag("audit", "-n", one.namespace, "--pushgateway", pushgateway, "--cluster-name", CLUSTER)
    assert proc.returncode in (0, 1), proc.stderr
    assert "kubediag audit" in proc.stdout  # the text report on stdout as usual
    _, text = _get(f"{pushgateway}/metrics")
    got = families(text)
    assert {lb["namespace"] for lb, _ in got["kubediag_service_status"]} == {one.namespace}


def test_unreachable_pushgateway_is_exit_3_after_the_report(scenarios: list[Scenario]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    proc = run_kubediag(
        "audit",
        "-n",
        scenarios[0].namespace,
        "-o",
        "prometheus",
        "--pushgateway",
        f"http://127.0.0.1:{port}",
        "--cluster-name",
        CLUSTER,
    )
    assert proc.returncode == 3
    assert "kubediag_service_status" in proc.stdout  # the textfile output is written first
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kubediag: pushgateway http://127.0.0.1:{port}: "), lines
