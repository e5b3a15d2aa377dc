"""Gathering: the only module that talks to the Kubernetes API (and imports `kubernetes`).

The official client provides configuration (kubeconfig contexts, in-cluster service account, exec plugins),
authentication and transport; responses are read as bytes (`_preload_content=False`) and decoded straight
into each kind's pruned Struct (kubediag.kinds), because the client's model deserialisation of large lists
is slow and keeps every field.
Every request is a read (GET); nothing is ever written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import email.utils
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import msgspec

from kubediag.controllers import WORKLOAD_KINDS, active, template_matches
from kubediag.dependents import (
    DNS_NAMESPACE,
    DNS_SELECTOR,
    ingress_address,
    ingress_class,
    ready_endpoints,
    unaddressed_routes,
)
from kubediag.kinds import (
    DISCOVERED_KINDS,
    ROUTE_KINDS,
    SPECS,
    api_path,
    decode_list,
    decode_object,
    warm_decoders,
)
from kubediag.kubeclient import Transport, parts
from kubediag.labels import labels_of, map_selector_filter
from kubediag.model import Kind, Unavailable
from kubediag.objects import (
    EndpointSlice,
    Event,
    Ingress,
    KubeObject,
    NetworkPolicy,
    Pod,
    Service,
    ServiceSpec,
)
from kubediag.retry import DeadlineExceeded, call_with_retry, classify, http_status
from kubediag.snapshot import ClusterData, name_of, ns_of

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


def kubeconfig_files(kubeconfig: str | None) -> tuple[list[str], str]:
    """The kubeconfig files to read, in order, as kubectl chooses them: `--kubeconfig` alone, else every
    existing file of `$KUBECONFIG` (missing ones ignored, duplicates once), else ~/.kube/config. Also the
    paths as given, for messages."""
    if kubeconfig:
        return [str(Path(kubeconfig).expanduser())], kubeconfig
    paths = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    files: list[str] = []
    for p in paths.split(os.pathsep):
        full = str(Path(p).expanduser()) if p else ""
        if full and full not in files and Path(full).is_file():
            files.append(full)
    return files, paths


def kubeconfig_contexts(kubeconfig: str | None) -> list[str]:
    """The context names of the kubeconfig files (merged), sorted; no request to any cluster."""
    files, _ = kubeconfig_files(kubeconfig)
    merged = parts().KubeConfigMerger(os.pathsep.join(files)).config if files else None
    if merged is None:
        return []
    return sorted(str(c.value["name"]) for c in merged.value.get("contexts") or [])


def current_context(files: Iterable[str]) -> str | None:
    """kubectl's current-context of merged files: from the first file that sets it (non-empty). The client
    library's merger lets the last one win, so kubediag picks it itself."""
    import yaml

    for path in files:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        if isinstance(doc, dict) and doc.get("current-context"):
            return str(doc["current-context"])
    return None


class Client:
    """A thin reader over the official client's configuration and transport (kubediag.kubeclient): GET and
    paginated LIST, decoded from the bytes."""

    def __init__(
        self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0
    ) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.log = RequestLog()
        self.default_namespace = "default"
        self._api = self._load(kubeconfig, context)
        self.server: str = str(self._api.configuration.host)
        # API discovery, once per run (`discover`): the version each run-time-versioned kind is served at
        self.served_versions: dict[Kind, str] = {}
        self._discovery: Discovery | None = None
        self._discovery_lock = threading.Lock()
        self._server_date: float = 0.0  # the newest `Date` header seen (the API server's clock), epoch seconds

    # ---- configuration ------------------------------------------------------------------------------
    def _load(self, kubeconfig: str | None, context: str | None) -> Any:
        try:
            k8s = parts()
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ConfigError(f"the kubernetes package cannot be imported: {exc}") from exc
        ConfigException, KubeConfigLoader, KubeConfigMerger = k8s.ConfigException, k8s.KubeConfigLoader, k8s.KubeConfigMerger
        cfg = k8s.Configuration()
        if kubeconfig and not Path(kubeconfig).expanduser().is_file():
            raise ConfigError(f"kubeconfig {kubeconfig} does not exist")
        files, paths = kubeconfig_files(kubeconfig)
        if files:
            where = ", ".join(files)
            try:
                # the client's merger: clusters, users and contexts by name, the first file wins (as kubectl);
                # relative certificate paths stay relative to their own file
                merger = KubeConfigMerger(os.pathsep.join(files))
                if merger.config is None:
                    raise ConfigError(f"kubeconfig {where}: no configuration found")
                contexts = [c.value for c in merger.config.value.get("contexts") or []]
                names = [c["name"] for c in contexts]
                wanted = context or current_context(files)
                if context and context not in names:
                    raise ConfigError(
                        f"context {context!r} not found in {where} (contexts: {', '.join(names) or 'none'})"
                    )
                chosen = next((c for c in contexts if c["name"] == wanted), None)
                if wanted and chosen is None:
                    raise ConfigError(
                        f"current-context {wanted!r} is not defined in {where} "
                        f"(contexts: {', '.join(names) or 'none'}); pass --context"
                    )
                if chosen:
                    self.default_namespace = (chosen.get("context") or {}).get("namespace") or "default"
                if not wanted:
                    raise ConfigError(f"no current-context in {where}: pass --context")
                merger.config.value["current-context"] = wanted
                KubeConfigLoader(
                    config_dict=merger.config, config_base_path=None, active_context=wanted
                ).load_and_set(cfg)
            except ConfigError:
                raise
            except (ConfigException, ValueError, KeyError, TypeError, OSError) as exc:
                raise ConfigError(f"kubeconfig {where}: {_redact(str(exc)).splitlines()[0]}") from exc
            except Exception as exc:  # yaml errors and exec-plugin failures come in many types
                raise ConfigError(f"kubeconfig {where}: {_redact(str(exc)).splitlines()[0]}") from exc
        else:
            if context:
                raise ConfigError(f"--context {context} given but no kubeconfig was found at {paths}")
            try:
                k8s.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise ConfigError(
                    f"no kubeconfig at {paths} and not running in a cluster (set KUBECONFIG or --kubeconfig)"
                ) from exc
            ns_file = SA_DIR / "namespace"
            if ns_file.is_file():
                self.default_namespace = ns_file.read_text().strip() or "default"
        cfg.retries = False  # retries are ours (kubediag.retry), within the deadline
        cfg.connection_pool_maxsize = 16
        from kubediag import __version__

        # the user agent is distinctive in the API server's audit log
        return Transport(cfg, f"kubediag/{__version__}")

    # ---- requests -----------------------------------------------------------------------------------
    def _get_once(
        self,
        path: str,
        query: Mapping[str, str],
        decode: Callable[[bytes], Any] = msgspec.json.decode,
        accept: str = "application/json",
    ) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"--timeout of {self.timeout:g}s passed")
        url, headers = self._api.url(path, query.items()), self._api.headers(accept)
        start = time.monotonic()
        per_try = min(remaining, max(5.0, self.timeout / 3))
        try:
            resp = self._api.get(url, headers, (min(per_try, 10.0), per_try))
            body = resp.read()
        except Exception as exc:
            self.log.add("GET", path, http_status(exc) or type(exc).__name__, time.monotonic() - start, _query_text(query))
            raise
        self.log.add("GET", path, resp.status, time.monotonic() - start, _query_text(query))
        self._note_date(resp)
        if not 200 <= resp.status < 300:
            raise parts().ApiException(http_resp=resp)
        try:
            return decode(body)
        except (ValueError, msgspec.DecodeError) as exc:  # a response cut halfway: retryable transport fault
            raise ConnectionError(f"malformed response from {path}: {exc}") from exc

    def get(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        decode: Callable[[bytes], Any] = msgspec.json.decode,
        accept: str = "application/json",
    ) -> Any:
        """One GET, decoded from its bytes by `decode` (plain JSON unless a kind's decoder is given)."""
        return call_with_retry(lambda: self._get_once(path, query or {}, decode, accept), self.deadline)

    def _note_date(self, resp: Any) -> None:
        try:
            date = resp.headers.get("Date") if resp.headers is not None else None
            when = email.utils.parsedate_to_datetime(date).timestamp() if date else 0.0
        except (TypeError, ValueError, AttributeError):
            return
        with self.log.lock:
            self._server_date = max(self._server_date, when)

    @property
    def server_time(self) -> str:
        """The API server's clock at the newest response (RFC 3339, second resolution), or "" if unknown."""
        if not self._server_date:
            return ""
        return datetime.datetime.fromtimestamp(self._server_date, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def discover(self) -> Discovery:
        """Which run-time-versioned kinds (Gateway API) the server serves, and at which version: one request
        (aggregated discovery, GET /apis), made once per run and cached; see `discover_kinds`."""
        with self._discovery_lock:
            if self._discovery is None:
                self._discovery = discover_kinds(self)
                self.served_versions = dict(self._discovery.served)
            return self._discovery

    def get_within(
        self, path: str, query: Mapping[str, str], decode: Callable[[bytes], Any], deadline: float
    ) -> Any:
        """One GET retried by the same policy, but only until `deadline` (an optional read's own budget)."""
        return call_with_retry(lambda: self._get_once(path, query, decode), min(deadline, self.deadline))

    def get_object(self, kind: Kind, namespace: str | None, name: str) -> Any:
        """One object of `kind` by name, decoded into its Struct."""
        path = f"{api_path(kind, namespace, self.served_versions.get(kind))}/{quote(name, safe='')}"
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


# ---- API discovery: which run-time-versioned kinds (Gateway API) the server serves ---------------------
# Aggregated discovery (one request for every group, version and resource; Kubernetes >= 1.26 beta, GA 1.30),
# with the classic APIGroupList as the fallback an older server answers with.
DISCOVERY_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@dataclass(frozen=True)
class Discovery:
    """The served version of each run-time-versioned kind; `error` when discovery failed (then whether
    they are served is unknown, never "not served")."""

    served: Mapping[Kind, str] = field(default_factory=dict)
    error: str = ""

    @property
    def unserved(self) -> frozenset[Kind]:
        return frozenset() if self.error else frozenset(DISCOVERED_KINDS) - frozenset(self.served)


class _Named(msgspec.Struct):
    name: str = ""


class _DiscResource(msgspec.Struct):
    resource: str = ""


class _DiscVersion(msgspec.Struct):
    version: str = ""
    resources: list[_DiscResource] = []


class _DiscGroup(msgspec.Struct):
    metadata: _Named = msgspec.field(default_factory=_Named)
    versions: list[_DiscVersion] = []


class _GroupVersion(msgspec.Struct):
    version: str = ""


class _APIGroup(msgspec.Struct, rename="camel"):
    name: str = ""
    versions: list[_GroupVersion] = []
    preferred_version: _GroupVersion | None = None


class _DiscoveryDoc(msgspec.Struct):
    kind: str = ""
    items: list[_DiscGroup] = []  # APIGroupDiscoveryList
    groups: list[_APIGroup] = []  # APIGroupList


class _ResourceList(msgspec.Struct):
    resources: list[_Named] = []


@functools.cache
def _discovery_decoder() -> msgspec.json.Decoder[_DiscoveryDoc]:
    return msgspec.json.Decoder(_DiscoveryDoc)


@functools.cache
def _resource_list_decoder() -> msgspec.json.Decoder[_ResourceList]:
    return msgspec.json.Decoder(_ResourceList)


def warm() -> None:
    """Every decoder the gatherer's threads use, built on this thread first (see `kinds.warm_decoders`)."""
    warm_decoders()
    _discovery_decoder().decode(b"{}")
    _resource_list_decoder().decode(b"{}")


def _discovery_failed(client: Client, exc: BaseException) -> Discovery:
    """401, a dead transport or the deadline end the run (as for any request); an HTTP answer is data."""
    status = http_status(exc)
    if status == 401 or status is None:
        raise ClusterError(describe_failure(exc, client.server)) from exc
    return Discovery(error=f"API discovery (GET /apis) failed: {describe_failure(exc, client.server)}")


def discover_kinds(client: Client) -> Discovery:
    """One GET /apis (aggregated discovery); for each run-time-versioned kind, the first version in the
    server's preference order that kubediag's Struct understands and that serves the resource. A server
    without aggregated discovery answers an APIGroupList: then one more GET per version of the groups."""
    groups = {SPECS[k].group for k in DISCOVERED_KINDS}
    try:
        doc = client.get("/apis", None, _discovery_decoder().decode, accept=DISCOVERY_ACCEPT)
    except Exception as exc:
        if http_status(exc) == 404:  # no API groups served at all (a core-only server): certainly none
            return Discovery()
        return _discovery_failed(client, exc)
    by_group: dict[str, list[tuple[str, set[str]]]] = {}
    if doc.kind == "APIGroupDiscoveryList":
        for g in doc.items:
            if g.metadata.name in groups:
                by_group[g.metadata.name] = [(v.version, {r.resource for r in v.resources}) for v in g.versions]
    else:
        decode = _resource_list_decoder().decode
        for ag in doc.groups:
            if ag.name not in groups:
                continue
            preferred = ag.preferred_version.version if ag.preferred_version else ""
            for v in sorted((v.version for v in ag.versions), key=lambda v: v != preferred):
                try:
                    listing = client.get(f"/apis/{ag.name}/{v}", None, decode)
                except Exception as exc:
                    return _discovery_failed(client, exc)
                by_group.setdefault(ag.name, []).append((v, {r.name for r in listing.resources}))
    served: dict[Kind, str] = {}
    for kind in DISCOVERED_KINDS:
        spec = SPECS[kind]
        for version, resources in by_group.get(spec.group, []):
            if version in spec.versions and kind.value in resources:
                served[kind] = version
                break
    return Discovery(served)


@dataclass
class _Gathered:
    lists: dict[Kind, list[Any]] = field(default_factory=dict)  # a kind's Structs
    unavailable: dict[Kind, Unavailable] = field(default_factory=dict)
    partial: dict[Kind, str] = field(default_factory=dict)
    coverage: dict[Kind, frozenset[str]] = field(default_factory=dict)


def _fetch_kinds(
    client: Client,
    jobs: Mapping[Kind, Callable[[], list[KubeObject]]],
    namespace: str | None,
    required: Iterable[Kind],
    out: _Gathered,
    while_waiting: Callable[[], None] | None = None,
) -> None:
    """Run LIST jobs concurrently; forbidden/failing kinds become Unavailable; transport death is fatal.
    `while_waiting` runs on this thread once the jobs are started."""
    required = set(required)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(jobs)))) as pool:
        futures = {kind: pool.submit(fn) for kind, fn in jobs.items()}
        if while_waiting is not None:
            while_waiting()
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


def _names_namespaces(policies: Iterable[NetworkPolicy]) -> bool:
    """Whether a policy has a namespaceSelector peer: judging it needs the Namespaces' labels."""
    return any(e.namespace_selector is not None for p in policies for e in p.spec.peers())


# Held around the one import a gatherer thread makes (kubediag.checks, for `route_kinds_for`), and by the
# calling thread when it imports the same before `gather_service`'s `while_waiting`: two threads importing
# the same modules at once can deadlock on the import system's module locks.
_IMPORTING = threading.Lock()


def gather_service(
    client: Client,
    namespace: str,
    name: str,
    client_ref: tuple[str, str] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> ClusterData:
    """Read what one Service's diagnosis needs: 6 requests, then a few conditional ones (see README).
    `while_waiting` runs on this thread while the first requests are out (the CLI imports the diagnosis
    then: the time is the API server's)."""
    warm()
    out = _Gathered()
    service: list[Service] = []

    def get_service() -> list[KubeObject]:
        try:
            return [client.get_object(Kind.SERVICE, namespace, name)]
        except Exception as exc:
            if http_status(exc) == 404:
                return []
            raise

    def ns_list(kind: Kind, **query: str) -> Callable[[], list[KubeObject]]:
        return lambda: client.list(kind, namespace, query, page=0)

    cross_ns_client = client_ref is not None and client_ref[0] != namespace
    # Reads whose need is known before phase 1 ends start at once, alongside it: API discovery; the Gateway API
    # routes once discovery and the Service are in; the Namespaces as soon as a policy names a
    # namespaceSelector (or the client is in another namespace); the webhooks and APIServices a Service
    # without ready endpoints serves once it and its EndpointSlices are in. Phase 2 takes their results: the
    # same requests as phase 2 would make, off the critical path of the pods LIST.
    early = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kubediag-early")
    namespaces_job: list[Future[list[KubeObject]]] = []
    namespaces_lock = threading.Lock()

    def start_namespaces() -> Future[list[KubeObject]]:
        with namespaces_lock:
            if not namespaces_job:
                namespaces_job.append(early.submit(lambda: client.list(Kind.NAMESPACE, None, page=0)))
            return namespaces_job[0]

    def list_policies() -> list[KubeObject]:
        items = client.list(Kind.NETWORKPOLICY, namespace, {}, page=0)
        if _names_namespaces(cast("list[NetworkPolicy]", items)):
            start_namespaces()
        return items

    routes_out = _Gathered()

    def routes() -> None:
        found = discovering.result()  # raises as discovery did: said after phase 1, as before
        try:
            svc = service_job.result()
        except Exception:
            svc = []  # phase 1 says why
        with _IMPORTING:  # _gather_routes imports kubediag.checks.routes: not while `prepare` does
            import kubediag.checks.routes  # noqa: F401
        _gather_routes(client, found, namespace, cast("Service", svc[0]) if svc else None, routes_out)

    def prepare() -> None:
        if while_waiting is not None:
            with _IMPORTING:  # first what the route thread imports, so that it does not wait for the rest
                import kubediag.checks.routes  # noqa: F401
            while_waiting()

    def served_here() -> dict[Kind, Future[list[KubeObject]]]:
        """What depends on the Service: the webhooks and aggregated APIs it serves, read when it is missing
        or has no ready endpoint (then they fail), as soon as the Service and its EndpointSlices are in."""
        try:
            svc = cast("list[Service]", service_job.result())
        except Exception:
            return {}  # not read: phase 1 says why
        try:
            slices: list[EndpointSlice] | None = cast("list[EndpointSlice]", slices_job.result())
        except Exception:
            slices = None
        if svc and (svc[0].spec.type == "ExternalName" or slices is None or ready_endpoints(slices)):
            return {}
        return {
            kind: early.submit((lambda k: lambda: client.list(k, None, page=0))(kind))
            for kind in (Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK, Kind.APISERVICE)
        }

    if cross_ns_client:
        start_namespaces()
    discovering = early.submit(client.discover)  # one request, cached for the run
    service_job = early.submit(get_service)
    slices_job = early.submit(
        ns_list(Kind.ENDPOINTSLICE, labelSelector=f"kubernetes.io/service-name={name}")
    )
    routing = early.submit(routes)
    dependents = early.submit(served_here)
    phase1: dict[Kind, Callable[[], list[KubeObject]]] = {
        Kind.SERVICE: service_job.result,
        Kind.ENDPOINTSLICE: slices_job.result,
        Kind.POD: ns_list(Kind.POD),
        Kind.NETWORKPOLICY: list_policies,
        # the namespace's events: the Service's (load balancer sync) and its pods' (probes, sandbox)
        Kind.EVENT: ns_list(Kind.EVENT),
        Kind.INGRESS: ns_list(Kind.INGRESS),
    }
    # --from: the cluster DNS the client resolves with (two small label-selected LISTs in kube-system)
    dns_pool = ThreadPoolExecutor(max_workers=1) if client_ref is not None else None
    dns_job = dns_pool.submit(_cluster_dns, client) if dns_pool is not None else None
    try:
        try:
            _fetch_kinds(client, phase1, namespace, [Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE], out, prepare)
        finally:
            concurrent.futures.wait([discovering])
        discovery = discovering.result()
        dns: tuple[list[Service], list[EndpointSlice], str] | None = (
            dns_job.result() if dns_job is not None else None
        )
    except BaseException:
        early.shutdown(wait=False)
        raise
    finally:
        if dns_pool is not None:
            dns_pool.shutdown(wait=False)
    service = out.lists.get(Kind.SERVICE, [])
    pods = cast(list[Pod], out.lists.get(Kind.POD, []))
    extra: dict[str, Any] = {}

    # ---- phase 2: only what this Service's situation calls for --------------------------------------
    phase2: dict[Kind, Callable[[], list[KubeObject]]] = {}
    spec = service[0].spec if service else ServiceSpec()
    selector = spec.selector
    # ClusterData.pods_matching, without building its label index of every pod for one selector
    matched = map_selector_filter(selector, [p for p in pods if p.metadata.namespace == namespace]) if selector else ()
    pending = any(not p.spec.node_name for p in matched)
    if service and (
        spec.type in ("NodePort", "LoadBalancer")
        or pending
        or "Local" in (spec.external_traffic_policy, spec.internal_traffic_policy)
    ):
        phase2[Kind.NODE] = lambda: client.list(Kind.NODE, None, page=0)
    policies = cast("list[NetworkPolicy]", out.lists.get(Kind.NETWORKPOLICY, []))
    if _names_namespaces(policies) or cross_ns_client:
        phase2[Kind.NAMESPACE] = start_namespaces().result  # started during phase 1
    if not service:
        phase2[Kind.DEPLOYMENT] = ns_list(Kind.DEPLOYMENT)
    # what depends on the Service, read only when it matters: the classes of Ingresses routing here that no
    # controller gave an address; webhooks and aggregated APIs when the Service is missing or has no ready
    # endpoint (then they fail)
    unaddressed = unaddressed_routes(out.lists.get(Kind.INGRESS, []), name)
    if unaddressed:
        phase2[Kind.INGRESSCLASS] = lambda: client.list(Kind.INGRESSCLASS, None, page=0)
    for kind, job in dependents.result().items():  # started as soon as the Service and its slices were in
        phase2[kind] = job.result
    # the workloads behind the selector: when no pod serves, or when a controller of the selected pods
    # records a pod it could not create (a healthy Service costs nothing more)
    serving = [p for p in matched if active(p)]
    if service and selector and (not serving or _failed_create_near(out.lists.get(Kind.EVENT, []), matched)):
        for kind in WORKLOAD_KINDS:
            phase2[kind] = ns_list(kind)
    # no pod serves: the namespace's other Services (judged below), read alongside phase 2
    siblings_job = (
        early.submit(lambda: client.list(Kind.SERVICE, namespace, page=0))
        if service and selector and not serving
        else None
    )
    # Gateway API routes, cluster-wide (a route in any namespace may name this Service): started in phase 1
    try:
        if phase2:
            _fetch_kinds(client, phase2, namespace, [], out)
        routing.result()
    finally:
        early.shutdown(wait=False)
    out.lists.update(routes_out.lists)
    out.unavailable.update(routes_out.unavailable)
    out.partial.update(routes_out.partial)
    out.coverage.update(routes_out.coverage)
    _gather_route_parents(client, discovery, namespace, name, out)
    cluster_wide: set[Kind] = set()
    if unaddressed and _class_wide_look(out.lists, unaddressed):
        # no Ingress of the class has an address here: was any ever given one, anywhere? (one LIST)
        try:
            out.lists[Kind.INGRESS] = client.list(Kind.INGRESS, None, page=500)
            cluster_wide.add(Kind.INGRESS)
        except Exception as exc:
            if http_status(exc) in (401,) or (http_status(exc) is None and isinstance(exc, DeadlineExceeded)):
                raise ClusterError(describe_failure(exc, client.server)) from exc

    # ---- phase 3: what the matching workloads call for (who scaled them, which nodes a DaemonSet misses) --
    workloads = ClusterData(
        objects={k: tuple(out.lists[k]) for k in WORKLOAD_KINDS if k in out.lists},
        read=frozenset(k for k in WORKLOAD_KINDS if k in out.lists and k not in out.unavailable),
    )
    templates = template_matches(workloads, namespace, selector) if service and selector else ()
    phase3: dict[Kind, Callable[[], list[KubeObject]]] = {}
    if any(w.desired == 0 and w.scalable for w in templates) and not serving:
        phase3[Kind.HPA] = ns_list(Kind.HPA)
    if any(w.desired == 0 and not w.scalable for w in templates) and not serving and Kind.NODE not in out.lists:
        phase3[Kind.NODE] = lambda: client.list(Kind.NODE, None, page=0)
    if phase3:
        _fetch_kinds(client, phase3, namespace, [], out)

    # no pod serves: the namespace's other Services, so that no fix points this one at their backends
    siblings: list[Service] = []
    if siblings_job is not None:
        try:
            siblings = [s for s in siblings_job.result() if s.metadata.name != name]
        except Exception as exc:
            status = http_status(exc)
            if status == 401 or (status is None and (isinstance(exc, DeadlineExceeded) or classify(exc).retry)):
                raise ClusterError(describe_failure(exc, client.server)) from exc
            extra["sibling_services_unknown"] = (
                f"forbidden: {permission('list', Kind.SERVICE, namespace)}"
                if http_status(exc) == 403
                else describe_failure(exc, client.server)
            )

    foreign: list[Pod] = []
    lookalikes: list[Service] = []
    lookalike_ns: list[str] = []
    missing_ns: set[str] = set()
    # pods matching in other namespaces are a hint worth a request only when no pod here nearly matches
    if selector and not matched and not templates and Kind.POD in out.lists and not _has_near_miss(selector, pods):
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        try:
            foreign = [
                p
                for p in client.list(Kind.POD, None, {"labelSelector": sel}, page=50)
                if p.metadata.namespace != namespace
            ][:20]
        except Exception:
            foreign = []  # only a hint; never a reason to fail
    if not service and Kind.SERVICE in out.lists:
        lookalikes, lookalike_ns, missing_ns = _lookalikes(client, namespace, name)
    extra["service_lookups"] = _init_waits(client, namespace, name, matched)
    if Kind.DEPLOYMENT not in out.lists and any(
        not found and ns == namespace for (ns, _), found in extra["service_lookups"].items()
    ):  # an init container waits for a Service that does not exist: a Deployment of that name to expose?
        _fetch_kinds(client, {Kind.DEPLOYMENT: ns_list(Kind.DEPLOYMENT)}, namespace, [], out)
    if cross_ns_client and client_ref is not None:
        cns, cname = client_ref
        try:
            pod: Pod = client.get_object(Kind.POD, cns, cname)
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
    extra["lookalike_namespaces"] = tuple(lookalike_ns)
    extra["missing_namespaces"] = frozenset(missing_ns)
    for kind in discovery.unserved:  # not served: certainly none (read, empty)
        out.lists.setdefault(kind, [])
    read = frozenset(out.lists) - frozenset(out.unavailable)
    objects: dict[Kind, tuple[Any, ...]] = {kind: tuple(items) for kind, items in out.lists.items()}
    objects[Kind.SERVICE] = tuple(service) + tuple(siblings)
    objects[Kind.POD] = tuple(pods)
    objects[Kind.NETWORKPOLICY] = tuple(policies)
    if dns is not None:
        dns_services, dns_slices, dns_gap = dns
        if not dns_gap and namespace != "kube-system":
            objects[Kind.SERVICE] += tuple(dns_services)
            objects[Kind.ENDPOINTSLICE] = objects.get(Kind.ENDPOINTSLICE, ()) + tuple(dns_slices)
        elif not dns_gap:  # the target is in kube-system: keep the store free of duplicates
            have = {(ns_of(s), name_of(s)) for s in objects[Kind.SERVICE]}
            objects[Kind.SERVICE] += tuple(s for s in dns_services if (ns_of(s), name_of(s)) not in have)
            names = {name_of(s) for s in objects.get(Kind.ENDPOINTSLICE, ())}
            objects[Kind.ENDPOINTSLICE] = objects.get(Kind.ENDPOINTSLICE, ()) + tuple(
                s for s in dns_slices if name_of(s) not in names
            )
        extra["cluster_dns_read"] = not dns_gap
        extra["cluster_dns_gap"] = dns_gap
    data = ClusterData(
        objects=objects,
        read=read,
        unavailable=dict(out.unavailable),
        server=client.server,
        cluster_wide=frozenset(cluster_wide),
        server_time=client.server_time,
        served_versions=dict(discovery.served),
        unserved=discovery.unserved,
        partial=dict(out.partial),
        coverage=dict(out.coverage),
        **extra,
    )
    # crash evidence: only when a selected pod has a crashed container (no request on a healthy Service)
    logs = read_crash_logs(client, data, namespace, name)
    if logs:
        from dataclasses import replace as _replace

        from kubediag.probes import DataPlane

        data = _replace(data, data_plane=DataPlane(logs=logs))
    return data


def _cluster_dns(client: Client) -> tuple[list[Service], list[EndpointSlice], str]:
    """(kube-dns Services, their EndpointSlices, why they could not be read or ""): kube-system Services
    labelled k8s-app=kube-dns; their slices carry the Service's labels (the endpointslice controller copies
    them), else they are looked up by Service name. Optional: forbidden or failing is a reason, not absence."""
    query = {"labelSelector": DNS_SELECTOR}
    kind = Kind.SERVICE
    try:
        services = client.list(Kind.SERVICE, DNS_NAMESPACE, query, page=0)
        kind = Kind.ENDPOINTSLICE
        slices: list[EndpointSlice] = (
            client.list(Kind.ENDPOINTSLICE, DNS_NAMESPACE, query, page=0) if services else []
        )
        listed = {labels_of(s).get("kubernetes.io/service-name") for s in slices}
        for svc in services:
            if name_of(svc) not in listed:
                slices += client.list(
                    Kind.ENDPOINTSLICE,
                    DNS_NAMESPACE,
                    {"labelSelector": f"kubernetes.io/service-name={name_of(svc)}"},
                    page=0,
                )
    except Exception as exc:
        status = http_status(exc)
        if status == 401 or (status is None and (isinstance(exc, DeadlineExceeded) or classify(exc).retry)):
            raise ClusterError(describe_failure(exc, client.server)) from exc
        if status == 403:
            return [], [], f"forbidden: {_forbidden_permission(exc, kind, DNS_NAMESPACE)}"
        return [], [], f"error: {permission('list', kind, DNS_NAMESPACE)}: {describe_failure(exc, client.server)}"
    return services, slices, ""


def _class_wide_look(lists: Mapping[Kind, list[Any]], unaddressed: list[Ingress]) -> bool:
    """An Ingress routing here has no address and its class exists (or is the default), but no Ingress of
    that class in this namespace has one: only a cluster-wide look tells whether a controller claims it."""
    classes = lists.get(Kind.INGRESSCLASS)
    if classes is None:
        return False
    names = {c.metadata.name for c in classes}
    default = next((c.metadata.name for c in classes if c.is_default), "")
    addressed = {ingress_class(i)[0] or default for i in lists.get(Kind.INGRESS, []) if ingress_address(i)}
    for ing in unaddressed:
        cls = ingress_class(ing)[0] or default
        if cls and cls not in addressed and (cls in names or ingress_class(ing)[1].startswith("metadata")):
            return True
    return False


def _gather_routes(
    client: Client, discovery: Discovery, namespace: str, service: Service | None, out: _Gathered
) -> None:
    """The route kinds the cluster serves, cluster-wide: for an existing Service the kinds its ports suggest
    (`checks.routes.route_kinds_for`: HTTPRoute always), for a missing one every kind (to name the routes
    that reference it). Nothing when discovery found none; discovery failing makes them unavailable."""
    from kubediag.checks.routes import route_kinds_for

    wanted = route_kinds_for(service.spec.ports) if service is not None else list(ROUTE_KINDS)
    if discovery.error:
        for kind in wanted:
            out.unavailable[kind] = Unavailable(kind, "error", discovery.error)
        return

    def cluster_wide(kind: Kind) -> list[KubeObject]:
        try:
            return client.list(kind, None, page=500)
        except Exception as exc:
            if http_status(exc) != 403 or not namespace:
                raise
        # namespace-only credentials: the Service's namespace at least (a 403 here is the kind's answer)
        items = client.list(kind, namespace, page=500)
        out.partial[kind] = (
            f"only namespace {namespace} was read ({permission('list', kind, None)} is forbidden): routes in "
            "other namespaces that name the Service are not seen"
        )
        out.coverage[kind] = frozenset({namespace})
        return items

    jobs: dict[Kind, Callable[[], list[KubeObject]]] = {
        kind: (lambda kind=kind: cluster_wide(kind))  # type: ignore[misc]
        for kind in wanted
        if kind in discovery.served
    }
    if jobs:
        _fetch_kinds(client, jobs, None, [], out)


def _gather_route_parents(
    client: Client, discovery: Discovery, namespace: str, name: str, out: _Gathered
) -> None:
    """Only when routes name the Service: the parent Gateways (in their namespaces) and, for a reference from
    another namespace, the ReferenceGrants of the Service's namespace; then, only for a parent Gateway that
    is not Programmed, the GatewayClasses (to say why)."""
    from kubediag.checks.routes import _is_gateway, routes_to
    from kubediag.objects import conditions_get

    data = ClusterData(objects={k: tuple(out.lists.get(k, ())) for k in ROUTE_KINDS})
    refs = routes_to(data, namespace, name)
    if not refs:
        return
    parent_ns = sorted(
        {p.namespace or b.route_ns for b in refs for p in b.route.spec.parent_refs if _is_gateway(p)}
    )
    jobs: list[tuple[Kind, str | None, Callable[[], list[KubeObject]]]] = []
    if parent_ns and Kind.GATEWAY in discovery.served:
        where: str | None = parent_ns[0] if len(parent_ns) == 1 else None  # several: one cluster-wide LIST
        jobs.append((Kind.GATEWAY, where, lambda: client.list(Kind.GATEWAY, where, page=500)))
        if where is not None:
            out.coverage[Kind.GATEWAY] = frozenset({where})
    if any(b.route_ns != namespace for b in refs) and Kind.REFERENCEGRANT in discovery.served:
        jobs.append((Kind.REFERENCEGRANT, namespace, lambda: client.list(Kind.REFERENCEGRANT, namespace, page=500)))
        out.coverage[Kind.REFERENCEGRANT] = frozenset({namespace})
    _fetch_each(client, jobs, out)
    gateways: list[Any] | None = out.lists.get(Kind.GATEWAY) if Kind.GATEWAY not in out.unavailable else None
    if gateways and Kind.GATEWAYCLASS in discovery.served:
        wanted = {(p.namespace or b.route_ns, p.name) for b in refs for p in b.route.spec.parent_refs}
        unprogrammed = [
            g
            for g in gateways
            if (g.metadata.namespace, g.metadata.name) in wanted
            and getattr(conditions_get(g.status.conditions, "Programmed"), "status", "") != "True"
        ]
        if unprogrammed:
            _fetch_each(client, [(Kind.GATEWAYCLASS, None, lambda: client.list(Kind.GATEWAYCLASS, None, page=0))], out)


def _fetch_each(
    client: Client, jobs: Sequence[tuple[Kind, str | None, Callable[[], list[KubeObject]]]], out: _Gathered
) -> None:
    """`_fetch_kinds` for jobs in different namespaces (each failure names its own namespace), concurrently."""
    if not jobs:
        return

    def one(kind: Kind, ns: str | None, fn: Callable[[], list[KubeObject]]) -> _Gathered:
        got = _Gathered()
        _fetch_kinds(client, {kind: fn}, ns, [], got)
        return got

    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="kubediag-gateway") as pool:
        results = list(pool.map(lambda job: one(*job), jobs))
    for got in results:
        out.lists.update(got.lists)
        out.unavailable.update(got.unavailable)
        out.coverage.update(got.coverage)


def _lookalikes(client: Client, namespace: str, name: str) -> tuple[list[Service], list[str], set[str]]:
    """For a missing Service: same-name Services elsewhere, names in this namespace, does the ns exist (and
    if not, the namespaces that do)."""
    found: list[Service] = []
    namespaces: list[str] = []
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
            namespaces.extend(name_of(n) for n in client.list(Kind.NAMESPACE, None, page=0))
    return found, namespaces, missing


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
    # Gateway API: listed only when API discovery says the cluster serves them
    *ROUTE_KINDS,
    Kind.REFERENCEGRANT,
    Kind.GATEWAY,
)
OPTIONAL_CLUSTER_KINDS: tuple[Kind, ...] = (
    Kind.NODE,
    Kind.NAMESPACE,
    Kind.INGRESSCLASS,
    Kind.VALIDATINGWEBHOOK,
    Kind.MUTATINGWEBHOOK,
    Kind.APISERVICE,
    Kind.GATEWAYCLASS,
)
REQUIRED_SCOPE_KINDS = frozenset({Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE})

# progress(kind, items_in_this_page): called from worker threads after every page.
ScopeProgress = Callable[[Kind, int], None]


def _init_waits(client: Client, namespace: str, name: str, pods: Iterable[Pod]) -> dict[tuple[str, str], bool]:
    """Only when selected pods are held in an init container: GET the (at most 3) Services its command waits
    for, to tell a missing dependency from a slow one. Forbidden or failing lookups stay unknown."""
    from kubediag.initwait import init_hold, waited_services

    wanted: dict[tuple[str, str], None] = {}
    for pod in pods:
        hold = init_hold(pod)
        if hold is not None:
            for w in waited_services(hold.container, namespace, {namespace}):
                if (w.namespace, w.name) != (namespace, name):
                    wanted[(w.namespace, w.name)] = None
    found: dict[tuple[str, str], bool] = {}
    for ns, svc in list(wanted)[:3]:
        try:
            client.get_object(Kind.SERVICE, ns, svc)
            found[(ns, svc)] = True
        except Exception as exc:
            if http_status(exc) == 404:
                found[(ns, svc)] = False
            elif http_status(exc) is None:  # transport dead or the deadline passed
                raise ClusterError(describe_failure(exc, client.server)) from exc
    return found


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

    warm()
    scoped = list(dict.fromkeys(namespaces)) if namespaces is not None else None

    def jobs_of(skip: frozenset[Kind]) -> list[tuple[Kind, str | None, dict[str, str]]]:
        jobs: list[tuple[Kind, str | None, dict[str, str]]] = []
        for kind in SCOPE_KINDS:
            if kind in skip:
                continue
            for query in scope_queries(kind, label_selector):
                jobs += [(kind, None, query)] if scoped is None else [(kind, ns, query) for ns in scoped]
        return jobs + [(kind, None, {}) for kind in OPTIONAL_CLUSTER_KINDS if kind not in skip]

    def run(kind: Kind, ns: str | None, query: dict[str, str]) -> list[KubeObject]:
        on_page = (lambda n: progress(kind, n)) if progress is not None else None
        return list_paged(client, kind, ns, query, page, on_page)

    # the kinds every server serves are listed at once; API discovery (one request, meanwhile) says which
    # Gateway API kinds to list too, never the others
    core = jobs_of(frozenset(DISCOVERED_KINDS))
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(jobs_of(frozenset())))), thread_name_prefix="kubediag-list"
    )
    futures: dict[Future[list[KubeObject]], tuple[Kind, str | None, dict[str, str]]] = {}
    failures: dict[Kind, list[tuple[str | None, BaseException]]] = {}
    fatal = True
    try:
        futures.update({pool.submit(run, *job): job for job in core})
        discovery = client.discover()
        skip = discovery.unserved | (frozenset(DISCOVERED_KINDS) if discovery.error else frozenset())
        jobs = jobs_of(skip)  # in the order of before: SCOPE_KINDS, then OPTIONAL_CLUSTER_KINDS
        futures.update({pool.submit(run, *job): job for job in jobs if job[0] in DISCOVERED_KINDS})
        lists: dict[Kind, list[KubeObject]] = {kind: [] for kind, _, _ in jobs}
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
    if discovery.error:
        unavailable.update({k: Unavailable(k, "error", discovery.error) for k in DISCOVERED_KINDS})
    for kind in discovery.unserved:  # not served: certainly none (read, empty)
        lists[kind] = []
    read = frozenset(lists) - frozenset(unavailable)

    dns_in_scope = scoped is None or DNS_NAMESPACE in scoped
    return ClusterData(
        objects={kind: tuple(items) for kind, items in lists.items() if kind in read},
        read=read,
        unavailable=unavailable,
        server=client.server,
        # every Service of the scope was listed (not only those a label selector picks): absence is known
        services_complete=(None if scoped is None else frozenset(scoped)) if not label_selector else frozenset(),
        cluster_wide=frozenset(read if scoped is None else read - set(SCOPE_KINDS)),
        cluster_dns_read=dns_in_scope
        and not label_selector
        and {Kind.SERVICE, Kind.ENDPOINTSLICE} <= read,
        server_time=client.server_time,
        served_versions=dict(discovery.served),
        unserved=discovery.unserved,
        coverage={} if scoped is None else {k: frozenset(scoped) for k in SCOPE_KINDS if not k.cluster_scoped},
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


_CONTINUE_HEAD = re.compile(rb'"metadata":\s*\{[^{}]*?"continue":\s*"([^"]*)"')


def _continue_token(head: bytes) -> str | None:
    """The continue token of a LIST page from its first bytes (the API server writes `metadata` before
    `items`), or None when it is not there (then the page is decoded first)."""
    items_at = head.find(b'"items"')
    m = _CONTINUE_HEAD.search(head, 0, items_at if items_at >= 0 else len(head))
    return m.group(1).decode() if m else None


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
    check reads are never materialised. The next page is requested while this one is decoded (the
    continue token is read from the page's head). A continue token that expired mid-list (410 Gone, on
    very large lists) restarts the LIST from the beginning, at most twice.
    """
    path = api_path(kind, namespace, getattr(client, "served_versions", {}).get(kind))

    def fetch(q: Mapping[str, str]) -> bytes:
        return client.get(path, q, bytes)  # type: ignore[no-any-return]

    restarts = 0
    while True:
        q = dict(query or {})
        if page:
            q["limit"] = str(page)
        items: list[Any] = []
        pool: ThreadPoolExecutor | None = None
        try:
            body = fetch(q)
            while True:
                this_q = q
                ahead = _continue_token(body[:4096]) if page else ""
                nxt = None
                if ahead:
                    pool = pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubediag-page")
                    q = {**q, "continue": ahead}
                    nxt = pool.submit(fetch, dict(q))
                try:
                    batch, cont = decode_list(kind, body)
                except (ValueError, msgspec.DecodeError):
                    # a page cut halfway is a transport fault: GET it again under the retry policy
                    batch, cont = client.get(path, this_q, lambda b: decode_list(kind, b))
                if nxt is not None and cont != ahead:
                    nxt.cancel()  # the head lied (never seen): follow the decoded token instead
                    nxt = None
                items.extend(batch)
                if on_page is not None:
                    on_page(len(batch))
                if nxt is not None:
                    body = nxt.result()
                elif cont:
                    q = {**q, "continue": cont}
                    body = fetch(q)
                else:
                    return items
        except Exception as exc:
            if http_status(exc) == 410 and restarts < 2:
                restarts += 1
                continue
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


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


def _failed_create_near(events: Iterable[Event], pods: Iterable[Pod]) -> bool:
    """A FailedCreate Warning on a controller of these pods (their ReplicaSet, another ReplicaSet of their
    Deployment, their StatefulSet or DaemonSet), newer than the newest of the pods: the workload wants pods
    it cannot create (an older one was followed by a successful create)."""
    from kubediag.workloads import event_time, owner_of

    names: set[tuple[str, str]] = set()
    deployments: set[str] = set()
    pods = list(pods)
    newest = max((p.metadata.creation_timestamp[:19] for p in pods), default="")
    for p in pods:
        for ref in p.metadata.owner_references:
            names.add((ref.kind, ref.name))
        o = owner_of(p)
        if o is not None and o.kind == "Deployment":
            deployments.add(o.name)
    for e in events:
        if e.reason != "FailedCreate" or e.type != "Warning" or event_time(e) < newest:
            continue
        kind, name = e.involved_object.kind, e.involved_object.name
        if (kind, name) in names or (kind == "ReplicaSet" and name.rsplit("-", 1)[0] in deployments):
            return True
    return False


def _has_near_miss(selector: Mapping[str, str], pods: Iterable[Pod]) -> bool:
    from kubediag.checks.selection import near_miss

    return any(near_miss(selector, p.metadata.labels) is not None for p in pods)



def _query_text(query: Mapping[str, str]) -> str:
    """The query as --debug shows it, the (long, opaque) continue token elided."""
    return "&".join(f"{k}={'...' if k == 'continue' else v}" for k, v in query.items())


# ---- data plane: crash logs and --probe ---------------------------------------------------------------------


def read_crash_logs(client: Client, data: ClusterData, namespace: str, name: str) -> tuple[Any, ...]:
    """The last lines of crashed containers (`pods/log`, previous run, small tailLines and limitBytes), one
    pod per workload among the Service's selected pods. Only requested when such a container exists, so a
    healthy Service costs nothing. Forbidden or failing reads are recorded, never raised."""
    from kubediag.probes import LOG_LIMIT_BYTES, LOG_TAIL_LINES, LogTail, log_targets

    svc = data.services_by_key.get((namespace, name))
    selector = svc.spec.selector if svc is not None else {}
    if not selector or Kind.POD not in data.read:
        return ()
    targets = log_targets(data.pods_matching(namespace, selector))

    def one(target: tuple[str, str, str, bool]) -> LogTail:
        ns, pod, container, previous = target
        path = f"/api/v1/namespaces/{quote(ns, safe='')}/pods/{quote(pod, safe='')}/log"
        query = {"container": container, "tailLines": str(LOG_TAIL_LINES), "limitBytes": str(LOG_LIMIT_BYTES)}
        if previous:
            query["previous"] = "true"
        try:
            text = client.get_within(path, query, lambda body: body.decode("utf-8", "replace"), budget)
            return LogTail(ns, pod, container, previous, str(text))
        except Exception as exc:
            status = http_status(exc)
            if status == 403:
                why = f"forbidden: get pods/log in namespace {ns}"
            elif isinstance(exc, DeadlineExceeded):
                why = f"no answer within the {LOG_BUDGET:g} s allowed for logs"
            else:
                why = _log_error(exc, client.server)
            return LogTail(ns, pod, container, previous, "", why)

    if not targets:
        return ()
    budget = time.monotonic() + LOG_BUDGET  # optional evidence: never the whole --timeout
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return tuple(pool.map(one, targets))


LOG_BUDGET = 5.0  # seconds the crash-log reads may take, retries included (within --timeout)


def _log_error(exc: BaseException, server: str) -> str:
    """A 400 from pods/log carries the kubelet's reason ("previous terminated container not found")."""
    body = getattr(exc, "body", None)
    if http_status(exc) is not None and isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
            if isinstance(doc, dict) and doc.get("message"):
                return f"{http_status(exc)}: {str(doc['message'])[:200]}"
        except ValueError:
            pass
    return describe_failure(exc, server)


def portforward_opener(client: Client) -> Any:
    """An Opener (kubediag.portforward) that upgrades `pods/portforward` on the API server with the client's
    own configuration and credentials: the only place the probe's connection is made, to the API server."""
    import ssl

    from websocket import WebSocket, WebSocketBadStatusException

    from kubediag.portforward import SUBPROTOCOL, UpgradeError

    cfg = client._api.configuration

    def open_(namespace: str, pod: str, ports: Any, timeout: float) -> Any:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/portforward"
        query = [("ports", ",".join(str(p) for p in ports))]
        url = re.sub(r"^http", "ws", client._api.url(path, query))
        headers = client._api.headers()
        header = [f"{k}: {v}" for k, v in headers.items() if k.lower() == "authorization"]
        header.append(f"User-Agent: {client._api.user_agent}")
        if str(url).startswith("wss://") and cfg.verify_ssl:
            import certifi

            sslopt: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cfg.ssl_ca_cert or certifi.where()}
            if cfg.assert_hostname is not None:
                sslopt["check_hostname"] = cfg.assert_hostname
        else:
            sslopt = {"cert_reqs": ssl.CERT_NONE}
        if cfg.cert_file:
            sslopt["certfile"] = cfg.cert_file
        if cfg.key_file:
            sslopt["keyfile"] = cfg.key_file
        if cfg.tls_server_name:
            sslopt["server_hostname"] = cfg.tls_server_name
        options: dict[str, Any] = {"header": header, "subprotocols": [SUBPROTOCOL], "timeout": timeout}
        if cfg.proxy:
            from kubernetes.stream.ws_client import websocket_proxycare

            options = websocket_proxycare(options, cfg, url, headers)
        ws = WebSocket(sslopt=sslopt, skip_utf8_validation=True)
        start = time.monotonic()
        try:
            ws.connect(url, **options)
        except WebSocketBadStatusException as exc:
            client.log.add("GET", path, exc.status_code, time.monotonic() - start, f"ports={query[0][1]} (upgrade)")
            reason = ""
            body = getattr(exc, "resp_body", None)
            if isinstance(body, bytes | str):
                with contextlib.suppress(ValueError):
                    doc = json.loads(body)
                    reason = str(doc.get("message", "")) if isinstance(doc, dict) else ""
            raise UpgradeError(exc.status_code, reason, getattr(exc, "resp_headers", None)) from exc
        except Exception as exc:
            client.log.add("GET", path, type(exc).__name__, time.monotonic() - start, f"ports={query[0][1]} (upgrade)")
            raise
        client.log.add("GET", path, 101, time.monotonic() - start, f"ports={query[0][1]} (upgrade)")
        return ws

    return open_


def probe_service(client: Client, data: ClusterData, namespace: str, name: str, sample: int,
                  deadline: float | None = None) -> Any:
    """--probe: plan the targets (kubediag.probes, pure), then port-forward through the API server
    (kubediag.portforward). Returns a ProbeRun for the snapshot."""
    from kubediag import portforward
    from kubediag.probes import ProbeRun, RunState, plan

    targets, ready = plan(data, namespace, name, sample)
    if not targets:
        why = "no ready endpoint backed by a pod to probe" if (namespace, name) in data.services_by_key else ""
        return ProbeRun(RunState.DONE, why, (), sample, ready)
    # the probe's own budget inside --timeout: a kubelet the API server cannot reach (upgrade 5xx, retried by
    # the policy of kubediag.retry) must not eat the whole run
    budget = time.monotonic() + PROBE_BUDGET
    end = min(deadline or budget, budget, client.deadline)
    return portforward.run(portforward_opener(client), namespace, targets, end, ready, sample)


PROBE_BUDGET = 10.0  # seconds one Service's --probe may take at most (within --timeout)


def probe_scope(client: Client, data: ClusterData, services: Iterable[Service], sample: int, cap: int) -> Any:
    """`audit --probe`: probe Service after Service (namespace, name order) until `cap` endpoints in total
    have been sampled; the rest are reported "not probed" (the cap). Returns a DataPlane."""
    from kubediag.probes import DataPlane, ProbeRun

    runs: dict[tuple[str, str], ProbeRun] = {}
    used = 0
    for svc in services:
        ns, name = svc.metadata.namespace, svc.metadata.name
        if used >= cap:
            break
        if time.monotonic() >= client.deadline - 1:
            break
        run = probe_service(client, data, ns, name, min(sample, cap - used))
        runs[(ns, name)] = run
        used += len({r.target.pod for r in run.results})
    plane = data.data_plane or DataPlane()
    from dataclasses import replace as _replace

    return _replace(plane, by_service=runs)
