"""A fault-injecting proxy on loopback in front of the real test API server (e2e only).

Two modes:

- ``tcp``: a byte pipe to the API server (TLS passes through untouched, the client authenticates itself).
  It can only do transport faults: reset the connection (RST), delay it, blackhole it (accept, never
  answer) or cut the server's bytes after K of them.
- ``http``: TLS-terminating. The proxy serves TLS with a self-signed certificate it generates (openssl CLI),
  reads each HTTP request and either answers it itself (a real ``429`` with ``Retry-After``, ``503``, any
  status), delays it, resets or blackholes it, cuts the response halfway, or forwards it to the API server
  over TLS, authenticating with the client certificate of the cluster's kubeconfig.

The fault schedule is deterministic: an ordered list of :class:`Rule` (which connections or requests, which
:class:`Action`, how many times), first match wins, everything else passes. Every connection/request and
the action applied is recorded in ``proxy.events`` for the tests to assert on (e.g. that a retry came after
``Retry-After``).

The proxy runs its own event loop in a daemon thread of the test process, listens on 127.0.0.1 only, and
stops itself after ``max_lifetime`` seconds whatever happens. It never connects anywhere but the upstream
API server address from the kubeconfig (loopback).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

ActionKind = Literal["pass", "reset", "close", "delay", "blackhole", "cut", "status"]

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Action:
    """What to do with one connection (tcp mode) or one request (http mode)."""

    kind: ActionKind
    seconds: float = 0.0  # delay
    nbytes: int = 0  # cut: server bytes let through (http mode: 0 = half the response)
    status: int = 0  # status: the HTTP status to answer
    retry_after: str | None = None  # status: a Retry-After header

    def __str__(self) -> str:
        extra = {
            "delay": f" {self.seconds:g}s",
            "cut": f" after {self.nbytes or 'half'} bytes",
            "status": f" {self.status}" + (f" Retry-After {self.retry_after}" if self.retry_after else ""),
        }.get(self.kind, "")
        return self.kind + extra


PASS = Action("pass")
RESET = Action("reset")  # close with a TCP RST (SO_LINGER 0)
CLOSE = Action("close")  # close at once with a FIN: the client sees EOF (mid-handshake in tcp mode)
BLACKHOLE = Action("blackhole")


def delay(seconds: float) -> Action:
    return Action("delay", seconds=seconds)


def cut(nbytes: int = 0) -> Action:
    return Action("cut", nbytes=nbytes)


def status(code: int, retry_after: str | None = None) -> Action:
    return Action("status", status=code, retry_after=retry_after)


@dataclass
class Rule:
    """Apply `action` to matching connections/requests, `times` times (None: always).

    `match` is a regular expression searched in ``"METHOD /path?query"`` (http mode only; tcp mode has no
    request to look at, so only match=None rules apply there). `once_per_target`: the rule applies to the
    first request of each distinct target (method, path and query) only, e.g. "cut every response of
    LIST pods once".
    """

    action: Action
    match: str | None = None
    times: int | None = None
    once_per_target: bool = False
    used: int = 0
    seen: set[str] = field(default_factory=set)

    def take(self, target: str | None) -> bool:
        if self.match is not None and (target is None or not re.search(self.match, target)):
            return False
        if self.times is not None and self.used >= self.times:
            return False
        if self.once_per_target:
            if target in self.seen:
                return False
            self.seen.add(target or "")
        self.used += 1
        return True


@dataclass(frozen=True)
class Event:
    at: float  # time.monotonic()
    conn: int  # connection number, from 1
    target: str | None  # "GET /api/v1/..." (http mode), None (tcp mode)
    action: str


@dataclass(frozen=True)
class Upstream:
    """The API server behind the proxy, read from a kubeconfig (current context)."""

    host: str
    port: int
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    kubeconfig: dict[str, Any]


def _file_or_data(entry: dict[str, Any], key: str, tmp: Path) -> str | None:
    if entry.get(key):
        return str(entry[key])
    data = entry.get(f"{key}-data")
    if not data:
        return None
    path = tmp / key
    path.write_bytes(base64.b64decode(data))
    return str(path)


def read_upstream(kubeconfig: str | Path, workdir: Path) -> Upstream:
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    ctx_name = doc.get("current-context")
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
    url = urlsplit(cluster["server"])
    host = url.hostname or ""
    if not host.startswith("127.") and host != "localhost":
        raise ValueError(f"refusing to proxy to {cluster['server']}: loopback only")
    return Upstream(
        host=host,
        port=url.port or 443,
        ca_file=_file_or_data(cluster, "certificate-authority", workdir),
        cert_file=_file_or_data(user, "client-certificate", workdir),
        key_file=_file_or_data(user, "client-key", workdir),
        kubeconfig=doc,
    )


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (openssl CLI: no Python crypto package needed)."""
    cert, key = workdir / "proxy.crt", workdir / "proxy.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=kubediag-faultproxy", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


class FaultProxy:
    """``with FaultProxy(kubeconfig, "tcp", [Rule(RESET, times=2)]) as p: p.kubeconfig_path ...``"""

    def __init__(
        self,
        kubeconfig: str | Path,
        mode: Literal["tcp", "http"] = "tcp",
        rules: list[Rule] | None = None,
        max_lifetime: float = 300.0,
    ) -> None:
        self.mode = mode
        self.rules = list(rules or [])
        self.max_lifetime = max_lifetime
        self._tmp = tempfile.TemporaryDirectory(prefix="kd-faultproxy-")
        self.workdir = Path(self._tmp.name)
        self.upstream = read_upstream(kubeconfig, self.workdir)
        self.events: list[Event] = []
        self.port = 0
        self._lock = threading.Lock()
        self._conn_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._server_ssl: ssl.SSLContext | None = None
        self._upstream_ssl: ssl.SSLContext | None = None
        self.cert_file: Path | None = None
        if mode == "http":
            cert, key = self_signed(self.workdir)
            self.cert_file = cert
            self._server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_ssl.load_cert_chain(cert, key)
            up = ssl.create_default_context(cafile=self.upstream.ca_file)
            if self.upstream.cert_file and self.upstream.key_file:
                up.load_cert_chain(self.upstream.cert_file, self.upstream.key_file)
            else:
                raise ValueError("http mode needs a client-certificate kubeconfig to authenticate upstream")
            self._upstream_ssl = up

    # ---- lifecycle -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"fault proxy failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            handler = self._handle_tcp if self.mode == "tcp" else self._handle_http
            self._server = loop.run_until_complete(
                asyncio.start_server(handler, "127.0.0.1", 0, ssl=self._server_ssl)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            loop.call_later(self.max_lifetime, self._shutdown)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.transport.abort()
        assert self._loop is not None
        self._loop.stop()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(10)
        self._tmp.cleanup()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the schedule --------------------------------------------------------------------------------
    def _pick(self, conn: int, target: str | None) -> Action:
        with self._lock:
            action = next((r.action for r in self.rules if r.take(target)), PASS)
            self.events.append(Event(time.monotonic(), conn, target, str(action)))
        return action

    def requests(self, pattern: str = "") -> list[Event]:
        """Recorded events whose target matches `pattern` (http mode)."""
        with self._lock:
            return [e for e in self.events if e.target is not None and re.search(pattern, e.target)]

    # ---- kubeconfig for clients ----------------------------------------------------------------------
    def write_kubeconfig(self, path: Path, namespace: str | None = None) -> Path:
        """A kubeconfig pointing at the proxy. tcp: the original credentials (the TLS is end to end);
        http: the proxy's certificate as CA and no credentials (the proxy authenticates upstream)."""
        if self.mode == "tcp":
            doc = json.loads(json.dumps(self.upstream.kubeconfig))
            ctx_name = doc["current-context"]
            ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
            for c in doc["clusters"]:
                if c["name"] == ctx["cluster"]:
                    c["cluster"]["server"] = self.url
            if namespace:
                ctx["namespace"] = namespace
        else:
            doc = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "faultproxy",
                        "cluster": {"server": self.url, "certificate-authority": str(self.cert_file)},
                    }
                ],
                "users": [{"name": "faultproxy", "user": {}}],
                "contexts": [
                    {
                        "name": "faultproxy",
                        "context": {
                            "cluster": "faultproxy",
                            "user": "faultproxy",
                            **({"namespace": namespace} if namespace else {}),
                        },
                    }
                ],
                "current-context": "faultproxy",
            }
        path.write_text(yaml.safe_dump(doc))
        return path

    # ---- connections ---------------------------------------------------------------------------------
    @staticmethod
    def _rst(writer: asyncio.StreamWriter) -> None:
        """Close with a TCP RST (SO_LINGER 0), not a FIN."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    @staticmethod
    async def _drain_until_eof(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._conn_ids)
        self._writers.add(writer)
        try:
            action = self._pick(conn, None)
            if action.kind == "reset":
                self._rst(writer)
                return
            if action.kind == "close":
                writer.close()
                return
            if action.kind == "blackhole":
                await self._drain_until_eof(reader)
                return
            if action.kind == "delay":
                await asyncio.sleep(action.seconds)
            up_reader, up_writer = await asyncio.open_connection(self.upstream.host, self.upstream.port)
            self._writers.add(up_writer)
            limit = action.nbytes if action.kind == "cut" else None
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer, None), self._pipe(up_reader, writer, limit, rst=writer)
                )
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        limit: int | None,
        rst: asyncio.StreamWriter | None = None,
    ) -> None:
        sent = 0
        try:
            while True:
                chunk = await src.read(65536)
                if not chunk:
                    break
                if limit is not None and sent + len(chunk) >= limit:
                    dst.write(chunk[: limit - sent])
                    with contextlib.suppress(Exception):
                        await dst.drain()
                    if rst is not None:
                        self._rst(rst)
                    break
                sent += len(chunk)
                dst.write(chunk)
                await dst.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                if dst.can_write_eof():
                    dst.write_eof()

    # ---- http mode -----------------------------------------------------------------------------------
    async def _handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._conn_ids)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
                headers = [ln for ln in lines[1:] if ln]
                length = next(
                    (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0
                )
                body = await reader.readexactly(length) if length else b""
                action = self._pick(conn, f"{method} {target}")
                if action.kind == "reset":
                    self._rst(writer)
                    return
                if action.kind == "close":
                    return  # the finally closes the TLS connection cleanly
                if action.kind == "blackhole":
                    await self._drain_until_eof(reader)
                    return
                if action.kind == "status":
                    writer.write(self._status_response(action, target))
                    await writer.drain()
                    continue  # keep-alive: the body length is known
                if action.kind == "delay":
                    await asyncio.sleep(action.seconds)
                response = await self._forward(method, target, headers, body)
                if action.kind == "cut":
                    head_len = response.find(b"\r\n\r\n") + 4
                    n = action.nbytes or max(head_len + 1, len(response) // 2)
                    writer.write(response[:n])
                    await writer.drain()
                    self._rst(writer)
                    return
                writer.write(response)
                await writer.drain()
                return  # the upstream answered "Connection: close"; so do we
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(self, method: str, target: str, headers: list[str], body: bytes) -> bytes:
        """One request upstream on a fresh TLS connection with `Connection: close`; the raw response."""
        keep = [
            h
            for h in headers
            if h.split(":", 1)[0].strip().lower() not in ("connection", "authorization", "keep-alive")
        ]
        raw = "\r\n".join([f"{method} {target} HTTP/1.1", *keep, "Connection: close", "", ""]).encode(
            "latin-1"
        )
        up_reader, up_writer = await asyncio.open_connection(
            self.upstream.host, self.upstream.port, ssl=self._upstream_ssl, server_hostname=self.upstream.host
        )
        self._writers.add(up_writer)
        try:
            up_writer.write(raw + body)
            await up_writer.drain()
            chunks = []
            while chunk := await up_reader.read(65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            self._writers.discard(up_writer)
            up_writer.transport.abort()

    @staticmethod
    def _status_response(action: Action, target: str) -> bytes:
        reason = REASONS.get(action.status, "Error")
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"faultproxy: {action.status} for {target}",
                "reason": reason.replace(" ", ""),
                "code": action.status,
            }
        ).encode()
        head = [
            f"HTTP/1.1 {action.status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if action.retry_after is not None:
            head.append(f"Retry-After: {action.retry_after}")
        return ("\r\n".join([*head, "", ""])).encode("latin-1") + body


@contextlib.contextmanager
def running(
    kubeconfig: str | Path, mode: Literal["tcp", "http"] = "tcp", rules: list[Rule] | None = None
) -> Iterator[FaultProxy]:
    proxy = FaultProxy(kubeconfig, mode, rules)
    with proxy:
        yield proxy


if __name__ == "__main__":  # manual use: python e2e/faultproxy.py [tcp|http]; prints a kubeconfig path
    import os
    import sys

    mode_arg = sys.argv[1] if len(sys.argv) > 1 else "tcp"
    assert mode_arg in ("tcp", "http")
    with FaultProxy(os.environ["KUBECONFIG"], mode_arg) as p:  # type: ignore[arg-type]
        cfg = p.write_kubeconfig(p.workdir / "kubeconfig")
        print(f"proxy {p.url} ({mode_arg}); KUBECONFIG={cfg}; Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
