"""Gathering: the only module that talks to the Kubernetes API (and imports `kubernetes`).

The official client provides configuration (kubeconfig contexts, in-cluster service account, exec plugins),
authentication and transport; responses are read as raw JSON (`_preload_content=False` style) because the
client's model deserialisation of large lists is slow and the checks read plain dicts anyway.
Every request is a read (GET); nothing is ever written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec

from kubediag.controllers import WORKLOAD_KINDS, active, template_matches
from kubediag.kinds import api_path, decode_list, decode_object
from kubediag.model import Kind, Obj, Unavailable
from kubediag.retry import DeadlineExceeded, call_with_retry, classify, http_status
from kubediag.snapshot import ClusterData, name_of

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")



class ClusterError(Exception):
    """The cluster cannot be used at all: unreachable, unauthenticated, bad kubeconfig, deadline passed."""


class ConfigError(ClusterError):
    """kubeconfig/context problems: said before any request."""


def kind_path(kind: Kind, namespace: str | None) -> str:
    return api_path(kind, namespace)


def permission(verb: str, kind: Kind, namespace: str | None) -> str:
    scope = f" in namespace {namespace}" if namespace and not kind.cluster_scoped else " (cluster-wide)"
    return f"{verb} {kind.value}{scope}"


@dataclass
class RequestLog:
    """Every request made, for --debug and the benchmark's request count."""

    entries: list[tuple[str, str, int | str, float]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # the query of each entry ("" for none)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, status: int | str, seconds: float, query: str = "") -> None:
        with self.lock:
            self.entries.append((method, path, status, seconds))
            self.queries.append(query)


def _redact(text: str) -> str:
    """Never print credentials: drop anything that looks like a bearer token."""
    import re

    return re.sub(r"(?i)(bearer\s+|token[\"':= ]+)[A-Za-z0-9._\-]+", r"\1<redacted>", text)


class Client:
    """A thin reader over the official client's ApiClient: GET and paginated LIST returning JSON dicts."""

    def __init__(
        self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0
    ) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.log = RequestLog()
        self.default_namespace = "default"
        self._api = self._load(kubeconfig, context)
        from kubediag import __version__

        self._api.user_agent = f"kubediag/{__version__}"  # distinctive in the API server's audit log
        self.server: str = str(self._api.configuration.host)

    # ---- configuration ------------------------------------------------------------------------------
    def _load(self, kubeconfig: str | None, context: str | None) -> Any:
        try:
            from kubernetes import client as k8s_client
            from kubernetes import config as k8s_config
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ConfigError(f"the kubernetes package cannot be imported: {exc}") from exc
        cfg = k8s_client.Configuration()
        paths = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        files = [p for p in paths.split(os.pathsep) if p]
        have_file = any(Path(p).is_file() for p in files)
        if kubeconfig and not Path(kubeconfig).is_file():
            raise ConfigError(f"kubeconfig {kubeconfig} does not exist")
        if have_file:
            first = next(p for p in files if Path(p).is_file())
            try:
                contexts, current = k8s_config.list_kube_config_contexts(config_file=first)
                names = [c["name"] for c in contexts]
                if context and context not in names:
                    raise ConfigError(
                        f"context {context!r} not found in {first} (contexts: {', '.join(names) or 'none'})"
                    )
                chosen = next((c for c in contexts if c["name"] == context), current) if context else current
                if chosen:
                    self.default_namespace = (chosen.get("context") or {}).get("namespace") or "default"
                k8s_config.load_kube_config(
                    config_file=first, context=context, client_configuration=cfg, persist_config=False
                )
            except ConfigError:
                raise
            except (ConfigException, ValueError, KeyError, TypeError, OSError) as exc:
                raise ConfigError(f"kubeconfig {first}: {_redact(str(exc)).splitlines()[0]}") from exc
            except Exception as exc:  # yaml errors and exec-plugin failures come in many types
                raise ConfigError(f"kubeconfig {first}: {_redact(str(exc)).splitlines()[0]}") from exc
        else:
            if context:
                raise ConfigError(f"--context {context} given but no kubeconfig was found at {paths}")
            try:
                k8s_config.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise ConfigError(
                    f"no kubeconfig at {paths} and not running in a cluster (set KUBECONFIG or --kubeconfig)"
                ) from exc
            ns_file = SA_DIR / "namespace"
            if ns_file.is_file():
                self.default_namespace = ns_file.read_text().strip() or "default"
        cfg.retries = False  # retries are ours (kubediag.retry), within the deadline
        cfg.connection_pool_maxsize = 16
        return k8s_client.ApiClient(cfg)

    # ---- requests -----------------------------------------------------------------------------------
    def _get_once(
        self, path: str, query: Mapping[str, str], decode: Callable[[bytes], Any] = msgspec.json.decode
    ) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"--timeout of {self.timeout:g}s passed")
        method, url, headers, _, _ = self._api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        start = time.monotonic()
        per_try = min(remaining, max(5.0, self.timeout / 3))
        try:
            resp = self._api.call_api(
                method, url, header_params=headers, _request_timeout=(min(per_try, 10.0), per_try)
            )
            body = resp.read()
        except Exception as exc:
            self.log.add("GET", path, http_status(exc) or type(exc).__name__, time.monotonic() - start, _query_text(query))
            raise
        self.log.add("GET", path, resp.status, time.monotonic() - start, _query_text(query))
        if not 200 <= resp.status < 300:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(http_resp=resp)
        try:
            return decode(body)
        except (ValueError, msgspec.DecodeError) as exc:  # a response cut halfway: retryable transport fault
            raise ConnectionError(f"malformed response from {path}: {exc}") from exc

    def get(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        decode: Callable[[bytes], Any] = msgspec.json.decode,
    ) -> Any:
        """One GET, decoded from its bytes by `decode` (plain JSON unless a kind's decoder is given)."""
        return call_with_retry(lambda: self._get_once(path, query or {}, decode), self.deadline)

    def get_object(self, kind: Kind, namespace: str | None, name: str) -> Any:
        """One object of `kind` by name, decoded into its Struct (or raw JSON for untyped kinds)."""
        path = f"{api_path(kind, namespace)}/{quote(name, safe='')}"
        return self.get(path, None, lambda body: decode_object(kind, body))

    def list(
        self, kind: Kind, namespace: str | None = None, query: Mapping[str, str] | None = None, page: int = 500
    ) -> list[Any]:
        """A paginated LIST (limit + continue) of `kind`, decoded into its Structs."""
        return list_paged(self, kind, namespace, query, page)

    def version(self) -> str:
        try:
            return str(self.get("/version").get("gitVersion", ""))
        except Exception:
            return ""


def _transport_reason(exc: BaseException) -> str:
    """The telling part of a transport error ("Connection reset by peer"), not urllib3's wrapping of it."""
    if getattr(exc, "status", None) == 0:  # ApiException(status=0, reason="SSLError\n[SSL: ...] ...")
        lines = str(getattr(exc, "reason", "") or "").splitlines()
        text = ": ".join(ln.strip() for ln in lines if ln.strip())
    else:
        inner = exc  # ProtocolError('Connection aborted.', ConnectionResetError(104, '...')) -> the inner one
        for _ in range(3):
            args: tuple[Any, ...] = tuple(getattr(inner, "args", ()))
            if len(args) >= 2 and isinstance(args[-1], BaseException):
                inner = args[-1]
            else:
                break
        strerror = getattr(inner, "strerror", None) if isinstance(inner, OSError) else None
        text = str(strerror or inner)
    text = re.sub(r"^(?:HTTPS?ConnectionPool\([^)]*\)|HTTPS?Connection\([^)]*\)|<[^>]*>):\s*", "", text)
    text = re.sub(r"\s*\((?:(?:read|connect) timeout=[^)]*|_ssl\.c:\d+)\)", "", text)
    return " ".join(text.split()).rstrip(".") or type(exc).__name__


def describe_failure(exc: BaseException, server: str) -> str:
    """One line for a request that failed for good (retryable errors only surface at the deadline)."""
    status = http_status(exc)
    if isinstance(exc, DeadlineExceeded):
        return f"timed out talking to {server}: {exc}"
    if status == 401:
        return f"unauthorized by {server}: the credentials were rejected (expired token?)"
    until = " (retried until the --timeout deadline)" if classify(exc).retry else ""
    if status is not None:
        reason = str(getattr(exc, "reason", "") or "")
        return _redact(f"{server} answered {status} {reason}".strip() + until)
    return _redact(f"cannot reach {server}: {_transport_reason(exc)}{until}")


def _forbidden_permission(exc: BaseException, kind: Kind, namespace: str | None) -> str:
    """The permission a 403 names: the verb from the API server's message (`cannot get resource ...`)."""
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
            message = str(doc.get("message", "")) if isinstance(doc, dict) else ""
        except ValueError:
            message = ""
    m = re.search(r"cannot (\w+) resource", message)
    return permission(m.group(1) if m else "list", kind, namespace)


@dataclass
class _Gathered:
    lists: dict[Kind, list[Obj]] = field(default_factory=dict)
    unavailable: dict[Kind, Unavailable] = field(default_factory=dict)


def _fetch_kinds(
    client: Client,
    jobs: Mapping[Kind, Callable[[], list[Obj]]],
    namespace: str | None,
    required: Iterable[Kind],
    out: _Gathered,
) -> None:
    """Run LIST jobs concurrently; forbidden/failing kinds become Unavailable; transport death is fatal."""
    required = set(required)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(jobs)))) as pool:
        futures = {kind: pool.submit(fn) for kind, fn in jobs.items()}
    for kind, fut in futures.items():
        exc = fut.exception()
        if exc is None:
            out.lists[kind] = fut.result()
            continue
        status = http_status(exc)
        if status == 403:
            out.unavailable[kind] = Unavailable(
                kind, "forbidden", _forbidden_permission(exc, kind, namespace)
            )
        elif status == 401:
            raise ClusterError(describe_failure(exc, client.server)) from exc
        elif status == 404:
            out.unavailable[kind] = Unavailable(
                kind, "error", f"{kind.value} are not served by this API server"
            )
        elif status is None and (
            kind in required or isinstance(exc, DeadlineExceeded) or classify(exc).retry
        ):
            raise ClusterError(describe_failure(exc, client.server)) from exc
        elif kind in required and classify(exc).retry:
            # 429/5xx until the deadline on data the diagnosis needs: the deadline passed (exit 3), as for a
            # dead transport; an optional kind is merely unavailable.
            raise ClusterError(describe_failure(exc, client.server)) from exc
        else:
            out.unavailable[kind] = Unavailable(kind, "error", describe_failure(exc, client.server))


def gather_service(
    client: Client,
    namespace: str,
    name: str,
    client_ref: tuple[str, str] | None = None,
) -> ClusterData:
    """Read what one Service's diagnosis needs: 6 requests, then a few conditional ones (see README)."""
    out = _Gathered()
    service: list[Obj] = []

    def get_service() -> list[Obj]:
        try:
            return [client.get_object(Kind.SERVICE, namespace, name)]
        except Exception as exc:
            if http_status(exc) == 404:
                return []
            raise

    def ns_list(kind: Kind, **query: str) -> Callable[[], list[Obj]]:
        return lambda: client.list(kind, namespace, query, page=0)

    phase1: dict[Kind, Callable[[], list[Obj]]] = {
        Kind.SERVICE: get_service,
        Kind.ENDPOINTSLICE: ns_list(Kind.ENDPOINTSLICE, labelSelector=f"kubernetes.io/service-name={name}"),
        Kind.POD: ns_list(Kind.POD),
        Kind.NETWORKPOLICY: ns_list(Kind.NETWORKPOLICY),
        # the namespace's events: the Service's (load balancer sync) and its pods' (probes, sandbox)
        Kind.EVENT: ns_list(Kind.EVENT),
        Kind.INGRESS: ns_list(Kind.INGRESS),
    }
    _fetch_kinds(client, phase1, namespace, [Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE], out)
    service = out.lists.get(Kind.SERVICE, [])
    pods = out.lists.get(Kind.POD, [])
    extra: dict[str, Any] = {}

    # ---- phase 2: only what this Service's situation calls for --------------------------------------
    phase2: dict[Kind, Callable[[], list[Obj]]] = {}
    spec = (service[0].get("spec") or {}) if service else {}
    selector = spec.get("selector") or {}
    from kubediag.snapshot import ClusterData as _CD

    matched = _CD(objects={Kind.POD: tuple(pods)}).pods_matching(namespace, selector) if selector else ()
    pending = any(not (p.get("spec") or {}).get("nodeName") for p in matched)
    if service and (
        spec.get("type") in ("NodePort", "LoadBalancer")
        or pending
        or "Local" in (spec.get("externalTrafficPolicy"), spec.get("internalTrafficPolicy"))
    ):
        phase2[Kind.NODE] = lambda: client.list(Kind.NODE, None, page=0)
    policies = out.lists.get(Kind.NETWORKPOLICY, [])
    cross_ns_client = client_ref is not None and client_ref[0] != namespace
    if (
        policies and any("namespaceSelector" in json.dumps(p.get("spec") or {}) for p in policies)
    ) or cross_ns_client:
        phase2[Kind.NAMESPACE] = lambda: client.list(Kind.NAMESPACE, None, page=0)
    if not service:
        phase2[Kind.DEPLOYMENT] = ns_list(Kind.DEPLOYMENT)
    # the workloads behind the selector: when no pod serves, or when a controller of the selected pods
    # records a pod it could not create (a healthy Service costs nothing more)
    serving = [p for p in matched if active(p)]
    if service and selector and (not serving or _failed_create_near(out.lists.get(Kind.EVENT, []), matched)):
        for kind in WORKLOAD_KINDS:
            phase2[kind] = ns_list(kind)
    if phase2:
        _fetch_kinds(client, phase2, namespace, [], out)

    # ---- phase 3: what the matching workloads call for (who scaled them, which nodes a DaemonSet misses) --
    workloads = ClusterData(
        objects={k: tuple(out.lists[k]) for k in WORKLOAD_KINDS if k in out.lists},
        read=frozenset(k for k in WORKLOAD_KINDS if k in out.lists and k not in out.unavailable),
    )
    templates = template_matches(workloads, namespace, selector) if service and selector else ()
    phase3: dict[Kind, Callable[[], list[Obj]]] = {}
    if any(w.desired == 0 and w.scalable for w in templates) and not serving:
        phase3[Kind.HPA] = ns_list(Kind.HPA)
    if any(w.desired == 0 and not w.scalable for w in templates) and not serving and Kind.NODE not in out.lists:
        phase3[Kind.NODE] = lambda: client.list(Kind.NODE, None, page=0)
    if phase3:
        _fetch_kinds(client, phase3, namespace, [], out)

    # no pod serves: the namespace's other Services, so that no fix points this one at their backends
    siblings: list[Obj] = []
    if service and selector and not serving:
        try:
            siblings = [
                s for s in client.list(Kind.SERVICE, namespace, page=0) if name_of(s) != name
            ]
        except Exception as exc:
            status = http_status(exc)
            if status == 401 or (status is None and (isinstance(exc, DeadlineExceeded) or classify(exc).retry)):
                raise ClusterError(describe_failure(exc, client.server)) from exc
            extra["sibling_services_unknown"] = (
                f"forbidden: {permission('list', Kind.SERVICE, namespace)}"
                if http_status(exc) == 403
                else describe_failure(exc, client.server)
            )

    foreign: list[Obj] = []
    lookalikes: list[Obj] = []
    missing_ns: set[str] = set()
    # pods matching in other namespaces are a hint worth a request only when no pod here nearly matches
    if selector and not matched and not templates and Kind.POD in out.lists and not _has_near_miss(selector, pods):
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        try:
            foreign = [
                p
                for p in client.list(Kind.POD, None, {"labelSelector": sel}, page=50)
                if (p.get("metadata") or {}).get("namespace") != namespace
            ][:20]
        except Exception:
            foreign = []  # only a hint; never a reason to fail
    if not service and Kind.SERVICE in out.lists:
        lookalikes, missing_ns = _lookalikes(client, namespace, name)
    if cross_ns_client and client_ref is not None:
        cns, cname = client_ref
        try:
            pod = client.get_object(Kind.POD, cns, cname)
            pods = [*pods, pod]
        except Exception as exc:
            if http_status(exc) not in (403, 404):
                raise ClusterError(describe_failure(exc, client.server)) from exc
        try:
            policies = [*policies, *client.list(Kind.NETWORKPOLICY, cns, page=0)]
        except Exception as exc:
            out.unavailable[Kind.NETWORKPOLICY] = Unavailable(
                Kind.NETWORKPOLICY,
                "forbidden" if http_status(exc) == 403 else "error",
                permission("list", Kind.NETWORKPOLICY, cns),
            )
    extra["foreign_matches"] = tuple(foreign)
    extra["lookalike_services"] = tuple(lookalikes)
    extra["missing_namespaces"] = frozenset(missing_ns)
    read = frozenset(out.lists) - frozenset(out.unavailable)
    objects = {kind: tuple(items) for kind, items in out.lists.items()}
    objects[Kind.SERVICE] = tuple(service) + tuple(siblings)
    objects[Kind.POD] = tuple(pods)
    objects[Kind.NETWORKPOLICY] = tuple(policies)
    return ClusterData(
        objects=objects,
        read=read,
        unavailable=dict(out.unavailable),
        server=client.server,
        **extra,
    )


def _lookalikes(client: Client, namespace: str, name: str) -> tuple[list[Obj], set[str]]:
    """For a missing Service: same-name Services elsewhere, names in this namespace, does the ns exist."""
    found: list[Obj] = []
    missing: set[str] = set()
    try:
        client.get(f"/api/v1/namespaces/{quote(namespace, safe='')}")
    except Exception as exc:
        if http_status(exc) == 404:
            missing.add(namespace)
    for where, query in ((namespace, {}), (None, {"fieldSelector": f"metadata.name={name}"})):
        try:
            found.extend(client.list(Kind.SERVICE, where, query, page=500))
        except Exception:
            continue  # hints only
    if missing:
        with contextlib.suppress(Exception):
            found.extend(
                {"kind": "Namespace", "metadata": {"name": name_of(n), "namespace": name_of(n)}}
                for n in client.list(Kind.NAMESPACE, None, page=0)
            )
    return found, missing


# ---- audit: the whole scope in bulk --------------------------------------------------------------------

# The namespaced kinds `audit` lists for its scope (cluster-wide with -A, else once per namespace), and the
# cluster-scoped ones it reads when allowed: nodes and namespaces are optional (namespace-only credentials
# cannot list them; the checks that need them are then skipped as forbidden).
SCOPE_KINDS: tuple[Kind, ...] = (
    Kind.SERVICE,
    Kind.ENDPOINTSLICE,
    Kind.POD,
    Kind.NETWORKPOLICY,
    Kind.INGRESS,
    Kind.DEPLOYMENT,
    Kind.EVENT,
    Kind.REPLICASET,
    Kind.STATEFULSET,
    Kind.DAEMONSET,
    Kind.HPA,
)
OPTIONAL_CLUSTER_KINDS: tuple[Kind, ...] = (Kind.NODE, Kind.NAMESPACE)
REQUIRED_SCOPE_KINDS = frozenset({Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE})

# progress(kind, items_in_this_page): called from worker threads after every page.
ScopeProgress = Callable[[Kind, int], None]


def gather_scope(
    client: Client,
    namespaces: Iterable[str] | None,
    page: int = 500,
    label_selector: str | None = None,
    progress: ScopeProgress | None = None,
    workers: int = 12,
) -> ClusterData:
    """Bulk read for `audit`: one paginated LIST (limit + continue) per kind and namespace, all concurrent
    (events: two filtered LISTs, see EVENT_QUERIES).

    `namespaces=None` means every namespace: one cluster-wide LIST per kind. Otherwise each namespaced kind
    is listed once per namespace (what namespace-scoped credentials allow). `label_selector` filters only
    the Services (pods, slices and policies are needed whatever selects the Services). Nothing is requested
    per Service. Forbidden or failing kinds become `Unavailable` records naming the permission
    (`list networkpolicies in namespace shop`); a kind is only `read` when every one of its LISTs succeeded.
    401, a dead transport or the deadline end the run (ClusterError).
    """
    from concurrent.futures import as_completed

    scoped = list(dict.fromkeys(namespaces)) if namespaces is not None else None
    jobs: list[tuple[Kind, str | None, dict[str, str]]] = []
    for kind in SCOPE_KINDS:
        for query in scope_queries(kind, label_selector):
            jobs += [(kind, None, query)] if scoped is None else [(kind, ns, query) for ns in scoped]
    jobs += [(kind, None, {}) for kind in OPTIONAL_CLUSTER_KINDS]

    def run(kind: Kind, ns: str | None, query: dict[str, str]) -> list[Obj]:
        on_page = (lambda n: progress(kind, n)) if progress is not None else None
        return list_paged(client, kind, ns, query, page, on_page)

    lists: dict[Kind, list[Obj]] = {kind: [] for kind, _, _ in jobs}
    failures: dict[Kind, list[tuple[str | None, BaseException]]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="kubediag-list")
    futures = {pool.submit(run, *job): job for job in jobs}
    fatal = True
    try:
        for fut in as_completed(futures):
            kind, ns, _ = futures[fut]
            exc = fut.exception()
            if exc is None:
                lists[kind].extend(fut.result())
            elif _scope_failure_is_fatal(exc, kind):
                raise ClusterError(describe_failure(exc, client.server)) from exc
            else:
                failures.setdefault(kind, []).append((ns, exc))
        fatal = False
    finally:
        pool.shutdown(wait=not fatal, cancel_futures=True)
    unavailable = {kind: _scope_unavailable(client, kind, errs) for kind, errs in failures.items()}
    read = frozenset(lists) - frozenset(unavailable)

    return ClusterData(
        objects={kind: tuple(items) for kind, items in lists.items() if kind in read},
        read=read,
        unavailable=unavailable,
        server=client.server,
    )


# The events the checks read: every event on Services (load-balancer sync: EnsuringLoadBalancer is Normal),
# Warning events on pods (failed probes, sandbox errors) and FailedCreate on controllers (quota, Pod Security). A namespace's Normal pod events (Scheduled,
# Pulled, Started...) are most of its events and no check reads them, so `audit` does not list them.
EVENT_QUERIES: tuple[dict[str, str], ...] = (
    {"fieldSelector": "involvedObject.kind=Service"},
    {"fieldSelector": "involvedObject.kind=Pod,type=Warning"},
    # controllers that could not create a pod (ReplicaSets, StatefulSets, DaemonSets): the rejection
    {"fieldSelector": "reason=FailedCreate,type=Warning"},
)


def scope_queries(kind: Kind, label_selector: str | None = None) -> list[dict[str, str]]:
    """The audit LISTs of one kind (server-side filters); one LIST each."""
    if kind is Kind.EVENT:
        return [dict(q) for q in EVENT_QUERIES]
    if kind is Kind.SERVICE and label_selector:
        return [{"labelSelector": label_selector}]
    return [{}]


def list_paged(
    client: Client,
    kind: Kind,
    namespace: str | None = None,
    query: Mapping[str, str] | None = None,
    page: int = 500,
    on_page: Callable[[int], None] | None = None,
) -> list[Any]:
    """A paginated LIST (limit + continue) of `kind` with a callback per page.

    Each page is decoded from its bytes straight into the kind's Structs (`kubediag.kinds`): fields no
    check reads are never materialised. A continue token that expired mid-list (410 Gone, on very large
    lists) restarts the LIST from the beginning, at most twice.
    """
    path = api_path(kind, namespace)

    def decode(body: bytes) -> tuple[list[Any], str]:
        return decode_list(kind, body)

    restarts = 0
    while True:
        q = dict(query or {})
        if page:
            q["limit"] = str(page)
        items: list[Any] = []
        try:
            while True:
                batch, cont = client.get(path, q, decode)
                items.extend(batch)
                if on_page is not None:
                    on_page(len(batch))
                if not cont:
                    return items
                q["continue"] = cont
        except Exception as exc:
            if http_status(exc) == 410 and restarts < 2:
                restarts += 1
                continue
            raise


def _scope_failure_is_fatal(exc: BaseException, kind: Kind) -> bool:
    """As for `svc`: 401, the deadline, and a transport that stays dead end the run; HTTP answers are data."""
    status = http_status(exc)
    if status == 401:
        return True
    if status is not None:
        # 429/5xx until the deadline on data the diagnosis needs: the deadline passed (exit 3), as for svc
        return kind in REQUIRED_SCOPE_KINDS and classify(exc).retry
    return kind in REQUIRED_SCOPE_KINDS or isinstance(exc, DeadlineExceeded) or classify(exc).retry


def scope_permission(kind: Kind, namespaces: Iterable[str | None]) -> str:
    """`list networkpolicies in namespace shop`, `... in namespaces a, b` or `list nodes (cluster-wide)`."""
    names = sorted({ns for ns in namespaces if ns})
    if kind.cluster_scoped or not names:
        return permission("list", kind, None)
    if len(names) == 1:
        return permission("list", kind, names[0])
    return f"list {kind.value} in namespaces {', '.join(names)}"


def _scope_unavailable(
    client: Client, kind: Kind, errors: list[tuple[str | None, BaseException]]
) -> Unavailable:
    forbidden = [ns for ns, exc in errors if http_status(exc) == 403]
    if len(forbidden) == len(errors):
        return Unavailable(kind, "forbidden", scope_permission(kind, forbidden))
    if all(http_status(exc) == 404 for _, exc in errors):
        return Unavailable(kind, "error", f"{kind.value} are not served by this API server")
    details = []
    if forbidden:
        details.append(f"forbidden: {scope_permission(kind, forbidden)}")
    for ns, exc in errors:
        if http_status(exc) != 403:
            where = f" in namespace {ns}" if ns else ""
            details.append(f"list {kind.value}{where}: {describe_failure(exc, client.server)}")
    return Unavailable(kind, "error", "; ".join(details))


def _failed_create_near(events: Iterable[Obj], pods: Iterable[Obj]) -> bool:
    """A FailedCreate Warning on a controller of these pods (their ReplicaSet, another ReplicaSet of their
    Deployment, their StatefulSet or DaemonSet), newer than the newest of the pods: the workload wants pods
    it cannot create (an older one was followed by a successful create)."""
    from kubediag.workloads import event_time, owner_of

    names: set[tuple[str, str]] = set()
    deployments: set[str] = set()
    pods = list(pods)
    newest = max((str((p.get("metadata") or {}).get("creationTimestamp") or "")[:19] for p in pods), default="")
    for p in pods:
        for ref in (p.get("metadata") or {}).get("ownerReferences") or []:
            names.add((str(ref.get("kind")), str(ref.get("name"))))
        o = owner_of(p)
        if o is not None and o.kind == "Deployment":
            deployments.add(o.name)
    for e in events:
        if e.get("reason") != "FailedCreate" or e.get("type") != "Warning" or event_time(e) < newest:
            continue
        inv = e.get("involvedObject") or e.get("regarding") or {}
        kind, name = str(inv.get("kind")), str(inv.get("name"))
        if (kind, name) in names or (kind == "ReplicaSet" and name.rsplit("-", 1)[0] in deployments):
            return True
    return False


def _has_near_miss(selector: Mapping[str, str], pods: Iterable[Obj]) -> bool:
    from kubediag.checks.selection import near_miss
    from kubediag.labels import labels_of

    return any(near_miss(selector, labels_of(p)) is not None for p in pods)



def _query_text(query: Mapping[str, str]) -> str:
    """The query as --debug shows it, the (long, opaque) continue token elided."""
    return "&".join(f"{k}={'...' if k == 'continue' else v}" for k, v in query.items())
