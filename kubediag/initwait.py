"""Pods held in an init container: which one, in what state, and what its command waits for. Pure.

A pod's app containers start only after every regular init container (restartPolicy not Always) has exited
with code 0, in order. Until then the pod is `Pending` with `Initialized=False` (`Init:0/2` in kubectl): it
is not running, so a readiness probe has nothing to do with it. An init container that loops on
`nslookup order-db` or `wait-for order-db:5432` waits for a Service; when that Service does not exist the pod
never starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubediag.objects import Container, ContainerStatus, Pod
from kubediag.text import is_ip_address

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST = rf"{DNS_LABEL}(?:\.{DNS_LABEL})*"
# How a shell command names the host it waits for.
_PATTERNS = [
    re.compile(
        rf"\b(?:nslookup|getent\s+(?:hosts|ahosts)|dig(?:\s+\+\S+)*|host|ping(?:\s+-\S+(?:\s+\d+)?)*)\s+({HOST})\b"
    ),
    re.compile(rf"\b(?:nc|ncat|netcat|telnet)(?:\s+-[a-zA-Z]+(?:\s+\d+)?)*\s+({HOST})\s+(\d{{1,5}})\b"),
    re.compile(
        rf"\b(?:wait-for(?:-it)?(?:\.sh)?|dockerize\s+-wait)\s+(?:tcp://|http://|https://)?({HOST})(?::(\d{{1,5}}))?"
    ),
    re.compile(
        rf"(?:tcp|https?|postgres(?:ql)?|mysql|mongodb|redis|amqp)://(?:[^@\s/]+@)?({HOST})(?::(\d{{1,5}}))?"
    ),
    re.compile(rf"\s-h\s*({HOST})(?:\s+-p\s*(\d{{1,5}}))?"),
    re.compile(rf"(?<![\w./:@-])({HOST}):(\d{{1,5}})\b"),
]


@dataclass(frozen=True)
class InitHold:
    """The first regular init container that has not completed."""

    name: str
    index: int  # position among the regular init containers
    done: int  # how many regular init containers completed
    total: int
    state: str  # "running", "waiting (PodInitializing)", "terminated with exit code 1 (Error)", "not started"
    restarts: int
    container: Container

    @property
    def reason(self) -> str:
        return f"Init:{self.done}/{self.total}"

    def describe(self) -> str:
        text = f"init container {self.name} ({self.index + 1} of {self.total}) is {self.state}"
        return text + (f", restarts {self.restarts}" if self.restarts else "")


def _initialized(pod: Pod) -> str | None:
    for c in pod.status.conditions:
        if c.type == "Initialized":
            return c.status
    return None


def _state(cs: ContainerStatus | None) -> tuple[str, bool]:
    """(description, completed) of one init container status."""
    if cs is None:
        return "not started", False
    state = cs.state
    if state.terminated is not None:
        t = state.terminated
        code = t.exit_code
        if code == 0:
            return "completed", True
        return f"terminated with exit code {code} ({t.reason or 'Error'})", False
    if state.running is not None:
        started = state.running.started_at
        return "running" + (f" since {started}" if started else ""), False
    waiting = state.waiting
    return f"waiting ({(waiting.reason if waiting else '') or 'unknown'})", False


def init_hold(pod: Pod) -> InitHold | None:
    """The regular init container that holds the pod, or None when initialization is complete or not begun."""
    regular = [c for c in pod.spec.init_containers if c.restart_policy != "Always"]
    if not regular or _initialized(pod) == "True":
        return None
    statuses = {cs.name: cs for cs in pod.status.init_container_statuses}
    if not statuses and _initialized(pod) is None:
        return None  # nothing reported yet (just scheduled): not a verdict on the init containers
    done = 0
    for i, c in enumerate(regular):
        cs = statuses.get(c.name)
        text, completed = _state(cs)
        if completed:
            done += 1
            continue
        return InitHold(c.name, i, done, len(regular), text, cs.restart_count if cs else 0, c)
    return None


@dataclass(frozen=True)
class Waited:
    """A Service an init container's command waits for."""

    namespace: str
    name: str
    port: int | None
    text: str  # the host as written


def command_text(container: Container) -> str:
    words = [*container.command, *container.args]
    return " ".join(" ".join(words).split())


def service_of_host(host: str, namespace: str, namespaces: set[str]) -> tuple[str, str] | None:
    """(namespace, name) when `host` is a Service DNS name: `name`, `name.ns`, `name.ns.svc[.cluster.local]`.
    `name.ns` counts only when `ns` is a namespace kubediag knows (else it is an outside host name)."""
    host = host.rstrip(".").lower()
    if is_ip_address(host):
        return None
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) == 2 and parts[1] in namespaces:
        return parts[1], parts[0]
    if len(parts) in (3, 5) and parts[2] == "svc" and (len(parts) == 3 or parts[3:] == ["cluster", "local"]):
        return parts[1], parts[0]
    return None


def waited_services(container: Container, namespace: str, namespaces: set[str]) -> list[Waited]:
    """The Services an init container's command (and args) wait for, in order of appearance."""
    text = command_text(container)
    found: dict[tuple[str, str], Waited] = {}
    hits: list[tuple[int, str, int | None]] = []
    for rx in _PATTERNS:
        for m in rx.finditer(text):
            port = int(m.group(2)) if m.lastindex and m.lastindex >= 2 and m.group(2) else None
            hits.append((m.start(1), m.group(1), port))
    for _, host, port in sorted(hits):
        ref = service_of_host(host, namespace, namespaces | {namespace})
        if ref is None or ref[1] in ("localhost", "echo", "sleep", "done", "do", "then"):
            continue
        key = ref
        if key not in found or (found[key].port is None and port is not None):
            found[key] = Waited(ref[0], ref[1], port, host)
    return list(found.values())
