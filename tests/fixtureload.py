"""Load YAML object fixtures into ClusterData / Snapshot (no cluster, no mocks: the objects are the input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubediag.kinds import KIND_BY_NAME, from_builtin
from kubediag.model import Kind, Unavailable
from kubediag.snapshot import ClientRef, ClusterData, Snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "checks"



@dataclass
class Fixture:
    path: Path
    check_id: str
    description: str
    snapshot: Snapshot
    expect: dict[str, Any] = field(default_factory=dict)


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
    doc = yaml.safe_load(path.read_text())
    ns, name = doc["target"].split("/", 1)
    client = None
    if doc.get("from"):
        cns, cname = doc["from"].split("/", 1)
        client = ClientRef(cns, cname)
    extra: dict[str, Any] = {}
    if doc.get("lookalike_services"):
        extra["lookalike_services"] = tuple(doc["lookalike_services"])
    if doc.get("missing_namespaces"):
        extra["missing_namespaces"] = frozenset(doc["missing_namespaces"])
    if doc.get("server_time"):  # the API server's clock when the snapshot was read
        extra["server_time"] = str(doc["server_time"])
    if doc.get("unserved"):  # kinds the API server does not serve (e.g. no Gateway API CRDs)
        extra["unserved"] = frozenset(Kind(k) for k in doc["unserved"])
    if doc.get("coverage"):  # kind -> the only namespaces it was read in (audit -n)
        extra["coverage"] = {Kind(k): frozenset(v) for k, v in doc["coverage"].items()}
    if doc.get("served_versions"):
        extra["served_versions"] = {Kind(k): v for k, v in doc["served_versions"].items()}
    data = build_data(doc.get("objects") or [], doc.get("unavailable"), **extra)
    return Fixture(
        path,
        path.parent.name,
        doc.get("description", ""),
        Snapshot(ns, name, data, client),
        doc.get("expect") or {},
    )


def all_fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("KD*/*.yaml"))
