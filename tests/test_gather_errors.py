"""Gathering's error handling, without a cluster.

1. `_fetch_kinds`: how one failed LIST becomes data (`Unavailable`, naming the permission) or ends the run
   (`ClusterError`, exit 3). The jobs raise errors shaped like the client's (ApiException with .status,
   .reason, .body, .headers; urllib3 transport errors): this is the classification unit, not a fake API
   server.
2. `describe_failure`: one line, naming the server, saying what happened, never a credential.
3. TLS failures: a handshake cut short is retried, a certificate problem is not.
4. The missing-data rule, per kind: the engine over ClusterData where one kind is `unavailable`. A required
   kind (Service, pods, EndpointSlices) makes the status unknown (exit 4) and never turns into an absence
   finding; an optional kind skips only the checks that read it, naming the permission.
5. Configuration errors (bad kubeconfig, missing context) are usage errors: one line, exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import urllib3
from fixtureload import build_data
from kubernetes.client.exceptions import ApiException
from test_engine import pod, slice_for, svc
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from kubediag.checks.base import ordered_checks
from kubediag.cli import FailOn, exit_code_for
from kubediag.engine import diagnose
from kubediag.gather import (
    ClusterError,
    ConfigError,
    _fetch_kinds,
    _Gathered,
    describe_failure,
)
from kubediag.kinds import ROUTE_KINDS, SPECS
from kubediag.model import REQUIRED_KINDS, ExitCode, Kind, Outcome, Status, Unavailable
from kubediag.render.json import report_dict
from kubediag.retry import DeadlineExceeded, classify
from kubediag.schemas import load
from kubediag.snapshot import ClusterData, Snapshot

SERVER = "https://127.0.0.1:6443"
SCHEMA = load("svc-report")


class FakeClient:
    """What `_fetch_kinds` uses of a Client: its server, for the messages."""

    server = SERVER


def api_error(status: int, message: str = "", headers: dict[str, str] | None = None) -> ApiException:
    """The client's own exception class, as `Client._get_once` raises it for a non-2xx answer."""
    exc = ApiException(
        status=status, reason={403: "Forbidden", 503: "Service Unavailable"}.get(status, "Err")
    )
    exc.body = json.dumps({"kind": "Status", "message": message, "code": status})
    exc.headers = headers or {}
    return exc


def raising(exc: BaseException) -> Callable[[], list[Any]]:
    def job() -> list[Any]:
        raise exc

    return job


def fetch(kind: Kind, exc: BaseException | None, required: bool) -> _Gathered:
    out = _Gathered()
    ok: Callable[[], list[Any]] = lambda: [{"kind": "X", "metadata": {"name": "a"}}]  # noqa: E731
    jobs = {kind: raising(exc) if exc else ok}
    other = Kind.INGRESS if kind is not Kind.INGRESS else Kind.EVENT
    jobs[other] = ok  # a healthy neighbour: its data must survive another kind's failure
    _fetch_kinds(FakeClient(), jobs, "shop", [kind] if required else [], out)  # type: ignore[arg-type]
    assert out.lists.get(other), "a failing kind must not cost the other kinds their data"
    return out


FORBIDDEN_NETPOL = 'networkpolicies.networking.k8s.io is forbidden: User "system:serviceaccount:shop:kd" cannot list resource "networkpolicies" in API group "networking.k8s.io" in the namespace "shop"'
FORBIDDEN_SVC_GET = 'services "web" is forbidden: User "u" cannot get resource "services" in API group "" in the namespace "shop"'


# ---- 1. _fetch_kinds: data or the end of the run -------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "exc", "required", "reason", "detail"),
    [
        (
            Kind.NETWORKPOLICY,
            api_error(403, FORBIDDEN_NETPOL),
            False,
            "forbidden",
            "list networkpolicies in namespace shop",
        ),
        (Kind.POD, api_error(403), True, "forbidden", "list pods in namespace shop"),
        (
            Kind.SERVICE,
            api_error(403, FORBIDDEN_SVC_GET),
            True,
            "forbidden",
            "get services in namespace shop",
        ),
        (Kind.NODE, api_error(403), False, "forbidden", "list nodes (cluster-wide)"),
        (Kind.NAMESPACE, api_error(403), False, "forbidden", "list namespaces (cluster-wide)"),
        (Kind.INGRESS, api_error(404), False, "error", "ingresses are not served by this API server"),
        # final HTTP answers on required data: unavailable (-> status unknown), never absence
        (Kind.POD, api_error(500 + 1), True, "error", f"{SERVER} answered 501"),
        (Kind.ENDPOINTSLICE, api_error(410), True, "error", f"{SERVER} answered 410"),
        (Kind.POD, api_error(400), True, "error", f"{SERVER} answered 400"),
        # 5xx/429 until the deadline on optional data: that kind only
        (Kind.EVENT, api_error(503), False, "error", f"{SERVER} answered 503 Service Unavailable (retried"),
        (Kind.DEPLOYMENT, api_error(429, headers={"Retry-After": "1"}), False, "error", "answered 429"),
        # a non-retryable oddity on optional data (not transport, not HTTP): that kind only
        (Kind.NETWORKPOLICY, ValueError("odd"), False, "error", f"cannot reach {SERVER}: odd"),
    ],
    ids=lambda v: v.value if isinstance(v, Kind) else None,
)
def test_failed_kind_becomes_unavailable(
    kind: Kind, exc: BaseException, required: bool, reason: str, detail: str
) -> None:
    out = fetch(kind, exc, required)
    assert kind not in out.lists
    got = out.unavailable[kind]
    assert (got.kind, got.reason) == (kind, reason)
    assert detail in got.detail
    assert "\n" not in got.detail


@pytest.mark.parametrize(
    ("kind", "exc", "required", "needle"),
    [
        (Kind.POD, api_error(401), True, f"unauthorized by {SERVER}"),
        (Kind.EVENT, api_error(401), False, f"unauthorized by {SERVER}"),  # 401 is never data
        (Kind.POD, ConnectionResetError(104, "Connection reset by peer"), True, "Connection reset by peer"),
        (Kind.NETWORKPOLICY, ConnectionResetError(104, "Connection reset by peer"), False, "cannot reach"),
        (Kind.EVENT, DeadlineExceeded("--timeout of 5s passed"), False, f"timed out talking to {SERVER}"),
        (Kind.POD, TimeoutError("timed out"), True, f"cannot reach {SERVER}"),
        # 5xx/429 until the deadline on required data: the deadline passed -> exit 3, as for a dead transport
        (Kind.POD, api_error(503), True, f"{SERVER} answered 503 Service Unavailable (retried until"),
        (Kind.SERVICE, api_error(429), True, f"{SERVER} answered 429"),
        (Kind.ENDPOINTSLICE, api_error(500), True, f"{SERVER} answered 500"),
        # a non-retryable oddity on required data still ends the run (no silent absence)
        (Kind.ENDPOINTSLICE, ValueError("odd"), True, "odd"),
    ],
    ids=lambda v: v.value if isinstance(v, Kind) else None,
)
def test_fatal_failures_end_the_run_with_one_line(
    kind: Kind, exc: BaseException, required: bool, needle: str
) -> None:
    with pytest.raises(ClusterError) as info:
        fetch(kind, exc, required)
    message = str(info.value)
    assert needle in message
    assert SERVER in message
    assert "\n" not in message


def test_success_keeps_every_list() -> None:
    out = fetch(Kind.POD, None, True)
    assert out.lists[Kind.POD] and not out.unavailable


# ---- 2. describe_failure: one line, the server, what happened -----------------------------------------
POOL = urllib3.HTTPSConnectionPool("127.0.0.1", 6443)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
            f"cannot reach {SERVER}: Connection reset by peer (retried until the --timeout deadline)",
        ),
        (
            ReadTimeoutError(POOL, "/api/v1/pods", "Read timed out. (read timeout=0.3659242)"),
            f"cannot reach {SERVER}: Read timed out (retried until the --timeout deadline)",
        ),
        (
            NewConnectionError(
                POOL,  # type: ignore[arg-type]
                "Failed to establish a new connection: [Errno 111] Connection refused",
            ),
            "Failed to establish a new connection: [Errno 111] Connection refused (retried",
        ),
        (
            ApiException(
                status=0,
                reason="SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                "failed: self-signed certificate (_ssl.c:1006)",
            ),
            f"cannot reach {SERVER}: SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate",
        ),
        (
            DeadlineExceeded("--timeout of 5s passed"),
            f"timed out talking to {SERVER}: --timeout of 5s passed",
        ),
        (api_error(401), f"unauthorized by {SERVER}: the credentials were rejected (expired token?)"),
        (api_error(503), f"{SERVER} answered 503 Service Unavailable (retried until the --timeout deadline)"),
        (api_error(403), f"{SERVER} answered 403 Forbidden"),
    ],
)
def test_describe_failure(exc: BaseException, expected: str) -> None:
    line = describe_failure(exc, SERVER)
    assert expected in line
    assert "\n" not in line and "object at 0x" not in line and "HTTPSConnectionPool" not in line


def test_describe_failure_never_prints_a_token() -> None:
    exc = ConnectionError("proxy said: Authorization: Bearer eyJhbGciOi.secret-part.sig rejected")
    assert "eyJhbGciOi" not in describe_failure(exc, SERVER)
    exc2 = ApiException(status=0, reason='SSLError\nfailed with token: "abc.def-123"')
    assert "abc.def-123" not in describe_failure(exc2, SERVER)


# ---- 3. TLS: a handshake cut short heals, a certificate problem does not --------------------------------
@pytest.mark.parametrize(
    ("reason", "retry"),
    [
        (
            "SSLError\n[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)",
            True,
        ),
        ("SSLError\n[Errno 104] Connection reset by peer", True),
        ("SSLError\n_ssl.c:990: The handshake operation timed out", True),
        (
            "SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer",
            False,
        ),
        ("SSLError\nhostname '10.0.0.1' doesn't match '127.0.0.1'", False),
        ("SSLError\n[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", False),
        ("SSLError\n[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca", False),
        ("SSLError\n[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate", False),
        ("SSLError\nsomething new and strange", False),  # unknown TLS trouble: do not hammer
    ],
)
def test_tls_failures_classification(reason: str, retry: bool) -> None:
    assert classify(ApiException(status=0, reason=reason)).retry is retry


def test_transport_errors_from_reading_the_body_are_retried() -> None:
    # a response cut halfway surfaces from resp.read() as urllib3's own errors, or as our ConnectionError
    assert classify(
        ProtocolError("Connection broken: IncompleteRead(332 bytes read, 686 more expected)")
    ).retry
    assert classify(urllib3.exceptions.SSLError("EOF occurred in violation of protocol")).retry
    assert classify(ConnectionError("malformed response from /api/v1/pods")).retry


# ---- 4. the missing-data rule, per kind ----------------------------------------------------------------
def _objects(selector: dict[str, str]) -> list[dict[str, Any]]:
    pods = [pod("web-1", {"app": "web"}, ip="10.244.0.1"), pod("web-2", {"app": "web"}, ip="10.244.0.2")]
    return [svc(selector=selector), *pods, slice_for("web", pods)]


def _without(objects: list[dict[str, Any]], kind: Kind) -> ClusterData:
    """The same cluster, but `kind` could not be read (forbidden): its objects are not in the snapshot."""
    field = {Kind.SERVICE: "Service", Kind.POD: "Pod", Kind.ENDPOINTSLICE: "EndpointSlice"}.get(kind)
    kept = [o for o in objects if o["kind"] != field]
    return build_data(kept, {kind.value: f"forbidden: list {kind.value} in namespace shop"})


@pytest.mark.parametrize("kind", sorted(REQUIRED_KINDS), ids=str)
@pytest.mark.parametrize("selector", [{"app": "wbe"}, {"app": "web"}], ids=["typo", "healthy"])
def test_required_kind_missing_means_unknown_never_absence(kind: Kind, selector: dict[str, str]) -> None:
    report = diagnose(Snapshot("shop", "web", _without(_objects(selector), kind)))
    assert report.status is Status.UNKNOWN
    assert exit_code_for(report.status, report.worst, FailOn.critical) is ExitCode.UNKNOWN
    categories = {f.category.value for f in report.findings}
    absence = {"service-not-found", "endpoints-missing", "selectorless-no-endpoints"}
    if kind is not Kind.ENDPOINTSLICE:
        absence.add("selector-no-match")  # the pods (or the Service) could not be read: no "no match"
    assert not categories & absence, categories
    needs_it = [c.id for c in ordered_checks() if kind in c.needs]
    skipped = {r.check_id: r.reason for r in report.skipped}
    for cid in needs_it:
        assert f"list {kind.value} in namespace shop" in skipped.get(cid, ""), (cid, skipped.get(cid))
    assert [e.kind for e in report.errors] == [kind]
    jsonschema.validate(report_dict(report), SCHEMA)


def test_unreadable_service_is_never_said_not_to_exist() -> None:
    report = diagnose(Snapshot("shop", "web", _without(_objects({"app": "web"}), Kind.SERVICE)))
    assert all("does not exist" not in r.reason for r in report.results), [r.reason for r in report.skipped]


def _rich_objects() -> list[dict[str, Any]]:
    """A healthy NodePort Service with something of every optional kind around it."""
    pods = [pod("web-1", {"app": "web"}, ip="10.244.0.1"), pod("web-2", {"app": "web"}, ip="10.244.0.2")]
    node = {
        "kind": "Node",
        "metadata": {"name": "node-a", "labels": {"topology.kubernetes.io/zone": "zone-a"}},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.240.0.1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-web", "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}], "policyTypes": ["Ingress"]},
    }
    ingress = {
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}}}}]}}]},
    }  # fmt: skip
    ns = {
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}},
    }
    deploy = {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}},
        },
    }
    event = {
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop"},
        "involvedObject": {"kind": "Service", "name": "web", "namespace": "shop"},
        "reason": "Type",
        "message": "ClusterIP -> NodePort",
        "type": "Normal",
    }
    service = svc(selector={"app": "web"}, type="NodePort")
    service["spec"]["ports"][0]["nodePort"] = 30080
    return [service, *pods, slice_for("web", pods), node, policy, ingress, ns, deploy, event]


OPTIONAL_KINDS = sorted(set(Kind) - REQUIRED_KINDS)


@pytest.mark.parametrize("kind", OPTIONAL_KINDS, ids=str)
def test_optional_kind_missing_skips_only_its_checks(kind: Kind) -> None:
    objects = _rich_objects()
    full = diagnose(Snapshot("shop", "web", build_data(objects)))
    assert full.status is not Status.UNKNOWN
    detail = f"list {kind.value}" + (" (cluster-wide)" if kind.cluster_scoped else " in namespace shop")
    field = SPECS[kind].kind
    # Gateway API route kinds other than HTTPRoute are read by the route checks when present, without being
    # in their `needs` (svc reads them only for some ports): a forbidden one is named in their reason.
    soft = {"KD804", "KD805"} if kind in ROUTE_KINDS and kind is not Kind.HTTPROUTE else set()
    data = build_data([o for o in objects if o["kind"] != field], {kind.value: f"forbidden: {detail}"})
    partial = diagnose(Snapshot("shop", "web", data))
    assert partial.status is not Status.UNKNOWN
    assert partial.errors == (Unavailable(kind, "forbidden", f"forbidden: {detail}"),)
    before = {r.check_id: r for r in full.results}
    for r in partial.results:
        chk_needs = next(c.needs for c in ordered_checks() if c.id == r.check_id)
        if kind in chk_needs:
            assert r.outcome is Outcome.SKIPPED and detail in r.reason, (r.check_id, r.reason)
        elif r.check_id in soft:
            assert r.outcome is before[r.check_id].outcome and detail in r.reason, (r.check_id, r.reason)
        else:  # every other check judges exactly as with full data
            assert (r.outcome, r.findings, r.reason) == (
                before[r.check_id].outcome,
                before[r.check_id].findings,
                before[r.check_id].reason,
            ), r.check_id


# ---- 5. configuration errors: usage, one line, exit 2 --------------------------------------------------
def _kd(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": str(tmp_path / "absent")}
    return subprocess.run(
        [sys.executable, "-m", "kubediag.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("apiVersion: v1\nkind: Config\nclusters: [\n  - {{{ not yaml", "kubeconfig"),
        ("", "kubeconfig"),
        (
            "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: [{name: x, context: {cluster: "
            "nowhere, user: nobody}}]\ncurrent-context: x\n",
            "kubeconfig",
        ),
        (
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: []\nusers: []\ncontexts: []\n",
            "kubeconfig",
        ),
    ],
    ids=["malformed-yaml", "empty", "context-names-missing-cluster", "current-context-missing"],
)
def test_bad_kubeconfig_is_a_usage_error(tmp_path: Path, content: str, needle: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(content)
    out = _kd("svc", "web", "--kubeconfig", str(cfg), "--timeout", "3", tmp_path=tmp_path)
    assert out.returncode == 2, out
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubediag: ") and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_config_error_is_a_cluster_error_subclass() -> None:
    # the CLI maps ConfigError to exit 2 before ClusterError's exit 3: the order of the except clauses matters
    assert issubclass(ConfigError, ClusterError)
