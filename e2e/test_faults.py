"""Faults between kubediag and the real API server, injected by e2e/faultproxy.py on loopback.

A namespace `kd-faults` holds a Deployment (2 ready replicas), a healthy Service `web` and a Service
`web-typo` whose selector has a typo (root cause selector-no-match). The baseline is kubediag's report
without faults. Then each fault schedule runs kubediag (svc and audit) through the proxy; every run must either
complete with exactly the baseline report (the retries healed the fault) or exit 3 within the deadline with
one stderr line naming the server: never a traceback, a hang, or a different diagnosis. Each case says which
of the two it expects (transient faults must heal; permanent ones must end in exit 3), except where noted.

Modes: `tcp` (transport faults under TLS: RST, FIN mid-handshake, delays, blackholes, cuts) and `http`
(TLS-terminating: real 429 with Retry-After, 500/502/503/504 answers, responses cut halfway, per request).

Each case runs three targets, concurrently, each through its own proxy with its own copy of the schedule:
`svc web`, `svc web-typo` and `audit -n kd-faults` (compared without its `generated_at` and `cluster`
fields, which name the time and the proxy).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from faultproxy import BLACKHOLE, CLOSE, RESET, FaultProxy, Rule, cut, delay, status
from scenarios import ROOT, Scenario, kubectl, kubediag_bin, wait_for, web_and_typo_manifests

from kubediag.schemas import load

NS = "kd-faults"
SCHEMA = load("svc-report")
AUDIT = "audit"  # the target name of `kubediag audit -n kd-faults`

MANIFESTS = web_and_typo_manifests(NS)

SERVICES = ["web", "web-typo"]
TARGETS = [*SERVICES, AUDIT]


def upstream_kubeconfig() -> str:
    cfg = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not cfg or not Path(cfg).is_file():
        pytest.fail('KUBECONFIG is not set to the test cluster: eval "$(e2e/cluster env)"')
    return cfg


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def report(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.stdout)
        doc.pop("generated_at", None)  # audit: the time, and the server (the proxy) with its version
        doc.pop("cluster", None)
        return doc


def kubediag(target: str, kubeconfig: str, timeout: float, *extra: str) -> Run:
    """`kubediag svc TARGET` or, for target "audit", `kubediag audit`, in kd-faults, as JSON."""
    cmd = ["audit"] if target == AUDIT else ["svc", target]
    args = [kubediag_bin(), *cmd, "-n", NS, "-o", "json", "--timeout", f"{timeout:g}"]
    args += ["--kubeconfig", kubeconfig, *extra]
    start = time.monotonic()
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout + 30,  # a hang fails the test, it never blocks the suite
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@pytest.fixture(scope="module")
def seeded(cluster: str) -> Iterator[None]:
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=90s", check=False)
    kubectl("create", "namespace", NS)
    kubectl("apply", "-f", "-", stdin=MANIFESTS)
    sc = Scenario("faults", ROOT / "e2e", NS, "web", "", {})
    wait_for(sc, {"pods": "app=web", "state": "ready", "count": 2})
    wait_for(sc, {"endpoints": "web", "ready": 2})
    yield
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="module")
def baseline(seeded: None) -> dict[str, Run]:
    cfg = upstream_kubeconfig()
    runs = {target: kubediag(target, cfg, 20) for target in TARGETS}
    for target, run in runs.items():
        assert run.stdout, f"{target}: no report: {run.stderr}"
        if target != AUDIT:
            jsonschema.validate(run.report, SCHEMA)
    assert (runs["web"].code, runs["web"].report["status"]) == (0, "healthy"), runs["web"].stdout
    typo = runs["web-typo"].report
    assert (runs["web-typo"].code, typo["status"]) == (1, "broken")
    assert typo["root_cause"]["category"] == "selector-no-match"
    assert runs[AUDIT].code == 1 and runs[AUDIT].report["summary"]["root_causes"] == [
        {"category": "selector-no-match", "count": 1}
    ]
    # stable: a second run without faults gives the same reports (what the fault runs are compared with)
    for target in ("web-typo", AUDIT):
        assert kubediag(target, cfg, 20).report == runs[target].report, target
    return runs


Expect = Literal["same", "exit3", "either"]


@dataclass
class Case:
    id: str
    mode: Literal["tcp", "http"]
    rules: list[Rule]
    expect: Expect
    timeout: float = 15.0
    targets: list[str] = field(default_factory=lambda: list(TARGETS))


def cases() -> list[Case]:
    return [
        # ---- transport faults (tcp): TLS end to end, the client's own credentials --------------------------
        Case("tcp-reset-first-3-connections", "tcp", [Rule(RESET, times=3)], "same"),
        Case("tcp-fin-mid-handshake-first-3", "tcp", [Rule(CLOSE, times=3)], "same"),
        Case("tcp-cut-handshake-after-64-bytes-first-3", "tcp", [Rule(cut(64), times=3)], "same"),
        Case("tcp-delay-every-connection-1s", "tcp", [Rule(delay(1.0))], "same"),
        # a blackholed connection costs one per-try timeout (max(5 s, timeout/3)), then the retry gets through
        Case("tcp-blackhole-first-2-connections", "tcp", [Rule(BLACKHOLE, times=2)], "same", timeout=12),
        Case(
            "tcp-reset-every-connection",
            "tcp",
            [Rule(RESET)],
            "exit3",
            timeout=3,
            targets=["web-typo", AUDIT],
        ),
        Case(
            "tcp-fin-every-connection", "tcp", [Rule(CLOSE)], "exit3", timeout=3, targets=["web-typo", AUDIT]
        ),
        Case(
            "tcp-blackhole-every-connection",
            "tcp",
            [Rule(BLACKHOLE)],
            "exit3",
            timeout=3,
            targets=["web-typo", AUDIT],
        ),
        # cut every connection after 4 KiB: mid-handshake or mid-response depending on the request
        Case("tcp-cut-every-connection-4k", "tcp", [Rule(cut(4096))], "either", timeout=5),
        # ---- HTTP answers (http): the proxy terminates TLS and authenticates upstream ------------------------
        Case(
            "http-429-retry-after-1-once-per-request",
            "http",
            [Rule(status(429, "1"), once_per_target=True)],
            "same",
        ),
        Case("http-503-once-per-request", "http", [Rule(status(503), once_per_target=True)], "same"),
        Case(
            "http-500-502-504-first-requests",
            "http",
            [Rule(status(500), times=2), Rule(status(502), times=2), Rule(status(504), times=2)],
            "same",
        ),
        Case(
            "http-cut-every-list-pods-once",
            "http",
            [Rule(cut(), match=r"/pods", once_per_target=True)],
            "same",
        ),
        Case("http-reset-first-3-requests", "http", [Rule(RESET, times=3)], "same"),
        Case("http-delay-every-request-0.5s", "http", [Rule(delay(0.5))], "same"),
        Case(
            "http-blackhole-list-pods-once",
            "http",
            [Rule(BLACKHOLE, match=r"/namespaces/kd-faults/pods(\?|$)", once_per_target=True)],
            "same",
            timeout=12,
        ),
        Case("http-503-always-on-pods", "http", [Rule(status(503), match=r"/pods")], "exit3", timeout=3),
        Case(
            "http-429-always",
            "http",
            [Rule(status(429, "1"))],
            "exit3",
            timeout=3,
            targets=["web-typo", AUDIT],
        ),
        Case(
            "http-cut-every-response", "http", [Rule(cut())], "exit3", timeout=3, targets=["web-typo", AUDIT]
        ),
    ]


CASES = cases()


def check_one_line_exit_3(run: Run, proxy: FaultProxy, timeout: float) -> None:
    assert run.code == 3, f"exit {run.code}; stderr: {run.stderr}"
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("kubediag: ") and proxy.url in lines[0], lines[0]


def run_through(case: Case, target: str, tmp_path: Path) -> tuple[Run, FaultProxy]:
    rules = [replace(r, used=0, seen=set()) for r in case.rules]  # a fresh schedule per target
    with FaultProxy(upstream_kubeconfig(), case.mode, rules) as proxy:
        cfg = str(proxy.write_kubeconfig(tmp_path / f"{target}.kubeconfig"))
        return kubediag(target, cfg, case.timeout), proxy


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fault(case: Case, baseline: dict[str, Run], tmp_path: Path) -> None:
    with ThreadPoolExecutor(len(case.targets)) as pool:
        futures = {t: pool.submit(run_through, case, t, tmp_path) for t in case.targets}
    for target, fut in futures.items():
        run, proxy = fut.result()
        where = (
            f"{case.id} {target}: exit {run.code} in {run.seconds:.1f}s; stderr: {run.stderr.strip()[:500]}"
        )
        assert "Traceback" not in run.stderr, where
        assert run.seconds < case.timeout + 6, where  # the deadline plus interpreter start-up, never a hang
        assert any(e.action != "pass" for e in proxy.events), f"{where}: the fault never fired"
        if case.expect == "exit3" or (case.expect == "either" and run.code == 3):
            check_one_line_exit_3(run, proxy, case.timeout)
            continue
        base = baseline[target]
        assert run.code == base.code, where
        assert run.report == base.report, where  # the same diagnosis, word for word
        assert run.stderr == "", where


def test_retry_after_is_honoured(baseline: dict[str, Run], tmp_path: Path) -> None:
    """Every first request answered 429 Retry-After: 1: each retry of it comes at least ~1 s later."""
    rules = [Rule(status(429, "1"), once_per_target=True)]
    with FaultProxy(upstream_kubeconfig(), "http", rules) as proxy:
        run = kubediag("web-typo", str(proxy.write_kubeconfig(tmp_path / "k")), 15)
    assert run.code == baseline["web-typo"].code and run.report == baseline["web-typo"].report
    throttled = [e for e in proxy.events if e.action.startswith("status 429")]
    assert len(throttled) >= 6  # the six first-phase requests at least
    for first in throttled:
        retry = next(e for e in proxy.events if e.target == first.target and e.at > first.at)
        assert retry.at - first.at >= 0.9, (first.target, retry.at - first.at)


def web_typo_with_failing(match: str, baseline: dict[str, Run], tmp_path: Path) -> tuple[dict[str, Any], FaultProxy]:
    """`svc web-typo` while the requests matching `match` answer 503 until the deadline: a valid report, no
    traceback, the baseline's exit code. Returns the report and the proxy (its URL, its request log)."""
    rules = [Rule(status(503), match=match)]
    with FaultProxy(upstream_kubeconfig(), "http", rules) as proxy:
        run = kubediag("web-typo", str(proxy.write_kubeconfig(tmp_path / "k")), 4)
    assert "Traceback" not in run.stderr
    jsonschema.validate(run.report, SCHEMA)
    assert run.code == baseline["web-typo"].code
    return run.report, proxy


def test_transient_failure_of_an_optional_kind_is_data_not_absence(
    baseline: dict[str, Run], tmp_path: Path
) -> None:
    """NetworkPolicies answer 503 until the deadline: only their checks are skipped, the rest is unchanged."""
    report, proxy = web_typo_with_failing(r"/networkpolicies", baseline, tmp_path)
    base = baseline["web-typo"].report
    assert (report["status"], report["root_cause"]) == (base["status"], base["root_cause"])
    assert [e["kind"] for e in report["errors"]] == ["networkpolicies"]
    assert "answered 503" in report["errors"][0]["detail"] and proxy.url in report["errors"][0]["detail"]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert "answered 503" in skipped["KD601"]


def test_webhook_reads_failing_skip_only_their_check(baseline: dict[str, Run], tmp_path: Path) -> None:
    """web-typo has no ready endpoint, so svc reads the webhooks and APIServices that could call it; they
    answer 503 until the deadline: only KD905 is skipped, naming the failure; the diagnosis is unchanged."""
    report, proxy = web_typo_with_failing(r"/apis/(admissionregistration|apiregistration)\.k8s\.io/", baseline, tmp_path)
    base = baseline["web-typo"].report
    assert (report["status"], report["root_cause"]) == (base["status"], base["root_cause"])
    assert {e["kind"] for e in report["errors"]} == {
        "apiservices",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    }
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert "answered 503" in skipped["KD905"]
    assert proxy.requests(r"/apis/admissionregistration\.k8s\.io/"), "the webhooks were read"


def test_failing_workload_reads_are_never_read_as_absence(baseline: dict[str, Run], tmp_path: Path) -> None:
    """ReplicaSets answer 503 until the deadline: KD204/KD205 are skipped with the error, and KD201 says a
    workload that makes no pods could not be ruled out (never "no workload")."""
    report, proxy = web_typo_with_failing(r"/replicasets", baseline, tmp_path)
    assert report["root_cause"]["category"] == "selector-no-match"
    assert "could not be ruled out" in report["root_cause"]["message"]
    assert [e["kind"] for e in report["errors"]] == ["replicasets"]
    assert "answered 503" in report["errors"][0]["detail"] and proxy.url in report["errors"][0]["detail"]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert "answered 503" in skipped["KD204"] and "answered 503" in skipped["KD205"]


def test_final_error_on_pods_means_unknown_never_selector_no_match(
    baseline: dict[str, Run], tmp_path: Path
) -> None:
    """The pod LIST fails for good (501, not retried): status unknown, exit 4, no selector-no-match."""
    rules = [Rule(status(501), match=r"/pods")]
    with FaultProxy(upstream_kubeconfig(), "http", rules) as proxy:
        run = kubediag("web-typo", str(proxy.write_kubeconfig(tmp_path / "k")), 10)
    assert run.code == 4, run.stderr
    report = run.report
    jsonschema.validate(report, SCHEMA)
    assert report["status"] == "unknown"
    assert all(f["category"] != "selector-no-match" for f in report["findings"])
    assert report["root_cause"] is None or report["root_cause"]["category"] != "selector-no-match"
    assert [e["kind"] for e in report["errors"]] == ["pods"]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert "answered 501" in skipped["KD201"]
    pod_requests = proxy.requests(r"/namespaces/kd-faults/pods")
    assert len(pod_requests) == 1, "a final answer is never retried"


def test_debug_through_faults_prints_requests_and_no_credentials(
    baseline: dict[str, Run], tmp_path: Path
) -> None:
    """--debug through retried faults: every request is a GET, never a Secret/ConfigMap, no key material."""
    with FaultProxy(upstream_kubeconfig(), "tcp", [Rule(RESET, times=2)]) as proxy:
        run = kubediag("web-typo", str(proxy.write_kubeconfig(tmp_path / "k")), 15, "--debug")
    assert run.code == baseline["web-typo"].code and run.report == baseline["web-typo"].report
    debug = [ln for ln in run.stderr.splitlines() if ln.startswith("debug: ")]
    requests = [ln for ln in debug if " -> " in ln]
    assert requests and all(ln.startswith("debug: GET /") for ln in requests), debug
    assert not any("secrets" in ln or "configmaps" in ln for ln in requests)
    assert sum(" -> 200 " not in ln for ln in requests) >= 1  # the reset requests are logged, then retried
    key = Path(proxy.upstream.key_file or "/nonexistent").read_text() if proxy.upstream.key_file else ""
    for secret_line in [ln for ln in key.splitlines() if ln and not ln.startswith("-----")][:3]:
        assert secret_line not in run.stderr and secret_line not in run.stdout
