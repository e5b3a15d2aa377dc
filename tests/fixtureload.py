"""Load YAML object fixtures into ClusterData / Snapshot (no cluster, no mocks: the objects are the input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubediag.checks.base import Fleet
from kubediag.kinds import KIND_BY_NAME, from_builtin
from kubediag.model import Kind, Unavailable
from kubediag.scope import Scope
from kubediag.snapshot import ClientRef, ClusterData, Snapshot, name_of, ns_of

FIXTURES = Path(__file__).parent / "fixtures" / "checks"


@dataclass
class Fixture:
    path: Path
    check_id: str
    description: str
    snapshot: Snapshot
    expect: dict[str, Any] = field(default_factory=dict)
    scope: Scope = field(default_factory=Scope)

    @property
    def fleet(self) -> Fleet:
        """The input of a cluster-wide check: the Services of the fixture in its `scope` (default: every
        namespace), sorted as audit sorts them."""
        data = self.snapshot.data
        services = [s for s in data.services if self.scope.includes(ns_of(s))]
        return Fleet(data, sorted(services, key=lambda s: (ns_of(s), name_of(s))), self.scope)


def build_data(
    objects: list[dict[str, Any]], unavailable: dict[str, str] | None = None, **extra: Any
) -> ClusterData:
    buckets: dict[Kind, list[Any]] = {k: [] for k in Kind}
    for obj in objects:
        kind = KIND_BY_NAME[obj["kind"]]
        buckets[kind].append(from_builtin(kind, obj))
    missing = {
        Kind(k): Unavailable(Kind(k), "forbidden" if "forbidden" in v else "error", v)
        for k, v in (unavailable or {}).items()
    }
    return ClusterData(
        read=frozenset(Kind) - frozenset(missing),
        unavailable=missing,
        objects={k: tuple(v) for k, v in buckets.items()},
        **extra,
    )


def load_fixture(path: Path) -> Fixture:
    """A fixture of a chain check names its `target` Service; one of a cluster-wide check (KDAnn) has none:
    its input is every Service of the objects (`Fixture.fleet`)."""
    doc = yaml.safe_load(path.read_text())
    ns, name = doc["target"].split("/", 1) if doc.get("target") else ("", "")
    client = None
    if doc.get("from"):
        cns, cname = doc["from"].split("/", 1)
        client = ClientRef(cns, cname)
    extra: dict[str, Any] = {}
    if doc.get("lookalike_services"):
        extra["lookalike_services"] = tuple(from_builtin(Kind.SERVICE, s) for s in doc["lookalike_services"])
    if doc.get("lookalike_namespaces"):  # the namespaces that exist, when the target's does not
        extra["lookalike_namespaces"] = tuple(doc["lookalike_namespaces"])
    if doc.get("missing_namespaces"):
        extra["missing_namespaces"] = frozenset(doc["missing_namespaces"])
    if doc.get("service_lookups"):  # Services looked up by name: {"ns/name": true|false}
        extra["service_lookups"] = {
            tuple(k.split("/", 1)): bool(v) for k, v in doc["service_lookups"].items()
        }
    if doc.get("cluster_dns_read"):
        extra["cluster_dns_read"] = True
    if doc.get("cluster_dns_gap"):
        extra["cluster_dns_gap"] = doc["cluster_dns_gap"]
    if doc.get("cluster_wide"):
        extra["cluster_wide"] = frozenset(Kind(k) for k in doc["cluster_wide"])
    if doc.get("data_plane"):  # --probe results and crash logs (kubediag.probes.from_fixture)
        from kubediag.probes import from_fixture

        extra["data_plane"] = from_fixture(doc["data_plane"])
    if doc.get("server_time"):  # the API server's clock when the snapshot was read
        extra["server_time"] = str(doc["server_time"])
    if doc.get("unserved"):  # kinds the API server does not serve (e.g. no Gateway API CRDs)
        extra["unserved"] = frozenset(Kind(k) for k in doc["unserved"])
    if doc.get("coverage"):  # kind -> the only namespaces it was read in (audit -n)
        extra["coverage"] = {Kind(k): frozenset(v) for k, v in doc["coverage"].items()}
    if doc.get("served_versions"):
        extra["served_versions"] = {Kind(k): v for k, v in doc["served_versions"].items()}
    data = build_data(doc.get("objects") or [], doc.get("unavailable"), **extra)
    scope = doc.get("scope") or {}  # cluster-wide fixtures: {namespaces: [...], exclude: [...], label_selector: ...}
    return Fixture(
        path,
        path.parent.name,
        doc.get("description", ""),
        Snapshot(ns, name, data, client),
        doc.get("expect") or {},
        Scope(
            tuple(scope["namespaces"]) if scope.get("namespaces") else None,
            frozenset(scope.get("exclude") or ()),
            scope.get("label_selector"),
        ),
    )


def all_fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("KD*/*.yaml"))


def chain_fixtures() -> list[Path]:
    """The fixtures of the per-Service chain (KDnnn), which name a target Service."""
    return sorted(FIXTURES.glob("KD[0-9]*/*.yaml"))
