"""Stand-in applications for `--probe` scenarios: tiny TCP/HTTP servers on 127.0.0.1 (random ports).

KWOK has no containers, so a scenario routes each pod's ports to one of these with a KWOK `PortForward`
object (kwok-controller dials the target when the API server forwards a `pods/portforward` stream to it).
A scenario's manifests name a backend as `${BACKEND:<spec>}`, replaced by the port it listens on:

  http-200, http-503, ...  answers every request with that status (HTTP/1.1, Connection: close)
  tcp                      accepts and holds the connection, says nothing
  closed                   a port nothing listens on (bound once, then closed): connection refused
  cut                      reads the request, sends half a status line, closes: the stream ends mid-answer

Servers are daemon threads of the test process, started on first use and shared for its lifetime. They
listen on loopback only and never connect anywhere.

`${LOGFILE:<dir>/<file>}` (a file of a scenario directory, relative to e2e/scenarios) is replaced by the path
of a copy in the container-runtime (CRI) log format that KWOK's `Logs` objects serve as a container's log.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from http import HTTPStatus

_LOCK = threading.Lock()
_PORTS: dict[str, int] = {}
_SOCKETS: list[socket.socket] = []
PATTERN = re.compile(r"\$\{BACKEND:([a-z0-9-]+)\}")
LOGFILE = re.compile(r"\$\{LOGFILE:([A-Za-z0-9._/-]+)\}")
_LOGDIR: list[str] = []


def _serve(sock: socket.socket, handle: object) -> None:
    def loop() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()  # type: ignore[arg-type]

    threading.Thread(target=loop, daemon=True, name=f"backend-{sock.getsockname()[1]}").start()


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass


def _http(status: int):  # type: ignore[no-untyped-def]
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    body = f"{status} {reason}\n".encode()

    def handle(conn: socket.socket) -> None:
        with conn:
            _read_request(conn)
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            with contextlib.suppress(OSError):
                conn.sendall(head + body)

    return handle


def _hold(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(30)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass


def _cut(conn: socket.socket) -> None:
    with conn:
        _read_request(conn)
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 5")


def port(spec: str) -> int:
    """The loopback port of the backend `spec` (started on first use)."""
    with _LOCK:
        if spec in _PORTS:
            return _PORTS[spec]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        number = int(sock.getsockname()[1])
        if spec == "closed":
            sock.close()  # nothing listens there any more: the kernel answers RST (connection refused)
        else:
            sock.listen(64)
            if m := re.fullmatch(r"http-(\d{3})", spec):
                handler = _http(int(m.group(1)))
            elif spec == "tcp":
                handler = _hold
            elif spec == "cut":
                handler = _cut
            else:
                sock.close()
                raise ValueError(f"unknown backend {spec!r}")
            _SOCKETS.append(sock)
            _serve(sock, handler)
        _PORTS[spec] = number
        return number


def logfile(relative: str) -> str:
    """A scenario's plain log lines as a CRI log file (`<time> stderr F <line>`) that kwok-controller reads."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    src = Path(__file__).resolve().parent / "scenarios" / relative
    with _LOCK:
        if not _LOGDIR:
            _LOGDIR.append(tempfile.mkdtemp(prefix="kubediag-e2e-logs-"))
            atexit.register(shutil.rmtree, _LOGDIR[0], True)
        dest = Path(_LOGDIR[0]) / relative.replace("/", "_")
        if not dest.exists():
            lines = src.read_text().splitlines()
            dest.write_text(
                "".join(f"2026-01-01T00:00:{i % 60:02d}.000000000Z stderr F {line}\n" for i, line in enumerate(lines))
            )
            dest.chmod(0o644)
        return str(dest)


def substitute(text: str) -> str:
    """Replace every `${BACKEND:<spec>}` with its port and `${LOGFILE:<path>}` with a CRI log file."""
    text = LOGFILE.sub(lambda m: logfile(m.group(1)), text)
    return PATTERN.sub(lambda m: str(port(m.group(1))), text)
