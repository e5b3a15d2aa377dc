"""A minimal raw HTTPS client for the benchmark: kubeconfig (PyYAML), client certificates, JSON in and out.

Used for the floor (plain GETs, no parsing), for the seed's waits (metadata-only LISTs) and as one of the
seeding transports. Only the API server from the kubeconfig is ever contacted, and only on loopback: the
benchmark refuses any other address (pod IPs and ClusterIPs of the KWOK cluster are fake).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml

META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
_CONTINUE = re.compile(rb'"continue":"([^"]*)"')


class KubeError(Exception):
    def __init__(self, status: int, method: str, path: str, body: bytes) -> None:
        self.status = status
        self.body = body
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = body[:200].decode("utf-8", "replace")
        super().__init__(f"{method} {path} -> {status}: {message}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class KubeConfig:
    server: str
    host: str
    port: int
    ssl: ssl.SSLContext
    headers: dict[str, str]
    path: str

    @classmethod
    def load(cls, path: str | None = None, context: str | None = None) -> KubeConfig:
        path = (
            path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube/config")
        )
        doc = yaml.safe_load(Path(path).read_text())
        ctx_name = context or doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in doc.get("users") or [] if u["name"] == ctx.get("user")), {}) or {}
        server = str(cluster["server"]).rstrip("/")
        url = urlsplit(server)
        host = url.hostname or ""
        if url.scheme != "https" or not _loopback(host):
            raise SystemExit(
                f"bench: refusing to talk to {server}: only an https API server on loopback is allowed"
            )
        tmp: list[str] = []

        def material(key: str) -> str | None:
            """A file path for `key` (`client-certificate`) or its inline `-data`, written to a 0600 temp file."""
            for src in (cluster, user):
                if src.get(key):
                    p = Path(str(src[key]))
                    return str(p if p.is_absolute() else Path(path).parent / p)
                if src.get(f"{key}-data"):
                    fd, name = tempfile.mkstemp(prefix="kubediag-bench-")
                    os.write(fd, base64.b64decode(src[f"{key}-data"]))
                    os.close(fd)
                    tmp.append(name)
                    return name
            return None

        ctx_ssl = ssl.create_default_context()
        if cluster.get("insecure-skip-tls-verify"):
            ctx_ssl.check_hostname = False
            ctx_ssl.verify_mode = ssl.CERT_NONE
        else:
            ca = material("certificate-authority")
            if ca:
                ctx_ssl.load_verify_locations(cafile=ca)
        cert, key = material("client-certificate"), material("client-key")
        if cert:
            ctx_ssl.load_cert_chain(cert, key)
        headers = {"User-Agent": "kubediag-bench"}
        if user.get("token"):
            headers["Authorization"] = f"Bearer {user['token']}"
        for name in tmp:
            os.unlink(name)  # loaded into the SSL context; never left on disk
        return cls(server, host, url.port or 443, ctx_ssl, headers, path)


class Kube:
    """One persistent connection per thread (http.client), raw bytes or JSON."""

    def __init__(self, cfg: KubeConfig, timeout: float = 60.0) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self._local = threading.local()
        self.requests = 0
        self._lock = threading.Lock()

    def _conn(self, fresh: bool = False) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPSConnection(
                self.cfg.host, self.cfg.port, context=self.cfg.ssl, timeout=self.timeout
            )
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def raw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        url = path + ("?" + urlencode(query) if query else "")
        hdrs = {**self.cfg.headers, **(headers or {})}
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        for attempt in range(3):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.request(method, url, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
            except (TimeoutError, http.client.HTTPException, ssl.SSLError, OSError):
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
                continue
            with self._lock:
                self.requests += 1
            return resp.status, data
        raise AssertionError("unreachable")

    def json(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> Any:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        status, out = self.raw(method, path, query, data, {"Accept": "application/json", **(headers or {})})
        if not (200 <= status < 300 or status in ok):
            raise KubeError(status, method, path, out)
        return json.loads(out) if out else None

    def list(
        self, path: str, query: Mapping[str, str] | None = None, meta_only: bool = False, page: int = 500
    ) -> Iterator[dict[str, Any]]:
        """A paginated LIST (limit + continue); `meta_only` asks for PartialObjectMetadata (small responses)."""
        q = {**(query or {}), "limit": str(page)}
        headers = {"Accept": META_LIST} if meta_only else {}
        while True:
            body = self.json("GET", path, q, headers=headers)
            yield from body.get("items") or []
            cont = (body.get("metadata") or {}).get("continue")
            if not cont:
                return
            q["continue"] = cont

    def fetch_pages(
        self, path: str, query: Mapping[str, str] | None = None, page: int = 500, parse: bool = False
    ) -> tuple[int, int]:
        """The floor: a paginated LIST read as bytes; the continue token found with a regex. (pages, bytes)
        `parse`: also json.loads each page (what any stdlib-json client must pay at least)."""
        q = dict(query or {})
        if page:
            q["limit"] = str(page)
        pages = size = 0
        while True:
            status, data = self.raw("GET", path, q, headers={"Accept": "application/json"})
            if status != 200:
                raise KubeError(status, "GET", path, data)
            pages += 1
            size += len(data)
            if parse:
                json.loads(data)
            m = _CONTINUE.search(data, 0, 4096)  # ListMeta comes first in the API server's JSON
            if not m or not m.group(1):
                return pages, size
            q["continue"] = m.group(1).decode()


def retrying(fn: Callable[[], Any], deadline: float) -> Any:
    """Retry 429/5xx, transport errors and 'serviceaccount not found yet' until `deadline`."""
    delay = 0.1
    while True:
        try:
            return fn()
        except KubeError as exc:
            transient = exc.status in (429, 500, 502, 503, 504) or (
                exc.status == 403 and b"serviceaccount" in exc.body.lower()
            )
            if not transient or time.monotonic() > deadline:
                raise
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
