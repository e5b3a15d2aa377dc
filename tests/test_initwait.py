"""Pods held in an init container: the hold, what its command waits for, and the conditional lookups."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

from kubediag.gather import ClusterError, _init_waits
from kubediag.initwait import init_hold, service_of_host, waited_services
from kubediag.kinds import from_builtin
from kubediag.model import Kind
from kubediag.objects import Container, Pod


def cmd(*words: str) -> Container:
    return Container(name="wait", command=tuple(words))


@pytest.mark.parametrize(
    ("container", "want"),
    [
        (cmd("sh", "-c", "until nslookup order-db; do sleep 2; done"), [("shop", "order-db", None)]),
        (
            cmd("sh", "-c", "until nslookup db.shop.svc.cluster.local; do sleep 2; done"),
            [("shop", "db", None)],
        ),
        (cmd("wait-for", "order-db:5432", "--", "echo", "ok"), [("shop", "order-db", 5432)]),
        (cmd("sh", "-c", "until nc -z -w 2 redis 6379; do sleep 1; done"), [("shop", "redis", 6379)]),
        (cmd("sh", "-c", "until pg_isready -h pg.data -p 5432; do sleep 1; done"), [("data", "pg", 5432)]),
        (
            cmd("sh", "-c", "until curl -fs http://config:8080/healthz; do sleep 1; done"),
            [("shop", "config", 8080)],
        ),
        (cmd("dockerize", "-wait", "tcp://mysql:3306", "-timeout", "60s"), [("shop", "mysql", 3306)]),
        # outside names and addresses are not Services
        (cmd("sh", "-c", "until nslookup example.com; do sleep 2; done"), []),
        (cmd("sh", "-c", "until nc -z 10.0.0.5 5432; do sleep 2; done"), []),
        (cmd("sh", "-c", "echo migrating; ./migrate up"), []),
    ],
)
def test_waited_services(container: Container, want: list[tuple[str, str, int | None]]) -> None:
    got = [(w.namespace, w.name, w.port) for w in waited_services(container, "shop", {"data"})]
    assert got == want


def test_service_of_host() -> None:
    assert service_of_host("web", "shop", set()) == ("shop", "web")
    assert service_of_host("web.other", "shop", {"other"}) == ("other", "web")
    assert service_of_host("web.other", "shop", set()) is None  # could be an outside host
    assert service_of_host("web.other.svc", "shop", set()) == ("other", "web")
    assert service_of_host("web.other.svc.cluster.local.", "shop", set()) == ("other", "web")
    assert service_of_host("10.0.0.1", "shop", set()) is None


def held_pod(state: dict[str, Any], initialized: str = "False", **status: Any) -> Pod:
    return from_builtin(Kind.POD, held_doc(state, initialized, **status))  # type: ignore[no-any-return]


def held_doc(state: dict[str, Any], initialized: str = "False", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {
            "initContainers": [
                {"name": "sidecar", "restartPolicy": "Always"},
                {"name": "wait", "command": ["sh", "-c", "until nslookup order-db; do sleep 2; done"]},
            ],
            "containers": [{"name": "app"}],
        },
        "status": {
            "conditions": [{"type": "Initialized", "status": initialized}],
            "initContainerStatuses": [
                {"name": "sidecar", "state": {"running": {}}},
                {"name": "wait", "state": state, "restartCount": 3},
            ],
            **status,
        },
    }


def test_init_hold_states() -> None:
    h = init_hold(held_pod({"running": {"startedAt": "2026-01-01T00:00:00Z"}}))
    assert h is not None and (h.name, h.reason, h.restarts) == ("wait", "Init:0/1", 3)
    assert h.state == "running since 2026-01-01T00:00:00Z"
    h = init_hold(held_pod({"terminated": {"exitCode": 2, "reason": "Error"}}))
    assert h is not None and h.state == "terminated with exit code 2 (Error)"
    assert init_hold(held_pod({"terminated": {"exitCode": 0}}, initialized="True")) is None
    assert init_hold(held_pod({"terminated": {"exitCode": 0}})) is None  # every regular one completed


class Client:
    """The part of gather.Client that _init_waits uses: get_object, answering from a table."""

    server = "https://127.0.0.1:6443"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def get_object(self, kind: Kind, namespace: str, name: str) -> Any:
        assert kind is Kind.SERVICE
        self.asked.append(f"{namespace}/{name}")
        answer = self.answers.get(f"{namespace}/{name}")
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            raise ApiException(status=404, reason="Not Found")
        return answer


def test_lookups_only_for_held_pods_and_at_most_three() -> None:
    running = held_pod({"running": {}})
    ok = held_pod({"terminated": {"exitCode": 0}}, initialized="True")
    client = Client({})
    assert _init_waits(client, "shop", "web", [ok]) == {}  # type: ignore[arg-type]
    assert client.asked == []
    assert _init_waits(client, "shop", "web", [running]) == {("shop", "order-db"): False}  # type: ignore[arg-type]
    doc = held_doc({"running": {}})
    doc["spec"]["initContainers"][1]["command"] = [
        "sh",
        "-c",
        "nslookup a; nslookup b; nslookup c; nslookup d",
    ]
    many = from_builtin(Kind.POD, doc)
    client = Client({"shop/b": {"metadata": {"name": "b"}}})
    assert _init_waits(client, "shop", "web", [many]) == {  # type: ignore[arg-type]
        ("shop", "a"): False,
        ("shop", "b"): True,
        ("shop", "c"): False,
    }


def test_forbidden_lookup_is_unknown_and_a_dead_transport_is_fatal() -> None:
    running = held_pod({"running": {}})
    forbidden = Client({"shop/order-db": ApiException(status=403, reason="Forbidden")})
    assert _init_waits(forbidden, "shop", "web", [running]) == {}  # type: ignore[arg-type]
    dead = Client({"shop/order-db": ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))})
    with pytest.raises(ClusterError):
        _init_waits(dead, "shop", "web", [running])  # type: ignore[arg-type]


def test_service_exists_is_known_only_where_services_were_listed_or_looked_up() -> None:
    from kubediag.snapshot import ClusterData

    svc = from_builtin(Kind.SERVICE, {"metadata": {"name": "web", "namespace": "shop"}})
    svc_mode = ClusterData(
        objects={Kind.SERVICE: (svc,)},
        read=frozenset({Kind.SERVICE}),
        service_lookups={("shop", "db"): False, ("shop", "cache"): True},
    )
    assert svc_mode.service_exists("shop", "web") is True
    assert svc_mode.service_exists("shop", "db") is False
    assert svc_mode.service_exists("shop", "cache") is True
    assert svc_mode.service_exists("shop", "other") is None  # svc reads one Service: absence is unknown
    audit_all = ClusterData(
        objects={Kind.SERVICE: (svc,)}, read=frozenset({Kind.SERVICE}), services_complete=None
    )
    assert audit_all.service_exists("ops", "db") is False
    audit_some = ClusterData(
        objects={Kind.SERVICE: (svc,)}, read=frozenset({Kind.SERVICE}), services_complete=frozenset({"shop"})
    )
    assert audit_some.service_exists("shop", "db") is False
    assert audit_some.service_exists("ops", "db") is None
    forbidden = ClusterData(services_complete=None)
    assert forbidden.service_exists("shop", "db") is None
