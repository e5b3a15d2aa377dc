"""CLI behaviour that needs no cluster: exit codes, stdout/stderr separation, start-up imports, escaping."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from test_engine import pod, run, svc

from kubediag.render.common import sanitize
from kubediag.render.markdown import report as to_markdown
from kubediag.render.text import report as render_text

ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": "/nonexistent/kubeconfig"}


def kd(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubediag.cli", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=timeout,
    )


def test_help_does_not_import_kubernetes() -> None:
    code = (
        "import sys; sys.argv=['kubediag', '--help']\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import kubediag.checks.base as b; b.ordered_checks()\n"
        "print('KUBERNETES' if 'kubernetes' in sys.modules else 'CLEAN', file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.stderr.strip().endswith("CLEAN"), out.stderr
    assert "svc" in out.stdout


def test_help_defers_markdown_and_traceback() -> None:
    """--help renders without rich.markdown (markdown-it) and rich.traceback (pygments): typer's help
    module gets stand-ins that load the real classes on first use, and the real modules stay importable."""
    code = (
        "import sys; sys.argv=['kubediag', '--help']\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('markdown_it', 'pygments')"
        " or m in ('rich.markdown', 'rich.traceback'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "import rich.markdown, rich.traceback, typer.rich_utils as ru\n"
        "md = ru.Markdown('*x*')\n"
        "assert isinstance(md, rich.markdown.Markdown), md\n"
        "assert ru.Traceback.from_exception.__self__ is rich.traceback.Traceback\n"
        "print('OK', file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert "HEAVY []" in out.stderr, out.stderr
    assert out.stderr.strip().endswith("OK"), out.stderr
    assert "Usage: kubediag" in out.stdout


@pytest.mark.parametrize("args", [["checks"], ["explain", "KD201"], ["checks", "-o", "json"]])
def test_docs_commands_do_not_import_kubernetes(args: list[str]) -> None:
    code = (
        f"import sys; sys.argv=['kubediag', *{args!r}]\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('KUBERNETES' if 'kubernetes' in sys.modules else 'CLEAN', file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.stderr.strip().endswith("CLEAN"), out.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["svc", "Bad_Name"], "invalid Service name"),
        (["svc", "web", "-n", "Not_A_NS"], "invalid namespace"),
        (["svc", "web", "--from", "x/Bad Pod"], "invalid pod name"),
        (["svc", "web", "--kubeconfig", "/nope/config"], "/nope/config does not exist"),
        (["svc", "web"], "no kubeconfig"),
        (["explain", "KD999"], "unknown check"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], needle: str) -> None:
    out = kd(*args)
    assert out.returncode == 2, out
    assert out.stdout == ""
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_unknown_flag_is_a_usage_error() -> None:
    out = kd("svc", "web", "--no-such-flag")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def _kubeconfig(tmp_path: Path, server: str, context_ns: str = "shop") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: s3cr3t-t0ken-value}}]\n"
        f"contexts: [{{name: x, context: {{cluster: c, user: u, namespace: {context_ns}}}}}]\n"
        "current-context: x\n"
    )
    return path


def test_unreachable_cluster_exits_3_within_the_timeout(tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, "https://127.0.0.1:1")  # loopback port 1: connection refused
    start = time.monotonic()
    out = kd("svc", "web", "--kubeconfig", str(cfg), "--timeout", "3", "--debug")
    elapsed = time.monotonic() - start
    assert out.returncode == 3, out
    assert "127.0.0.1:1" in out.stderr
    assert out.stdout == ""
    assert elapsed < 3 + 8  # the deadline plus interpreter start-up
    assert "s3cr3t-t0ken-value" not in out.stderr  # never print credentials, not even with --debug


def test_missing_context_is_a_usage_error(tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    out = kd("svc", "web", "--kubeconfig", str(cfg), "--context", "prod")
    assert out.returncode == 2
    assert "context 'prod' not found" in out.stderr


def test_checks_json_lists_the_chain() -> None:
    out = kd("checks", "-o", "json")
    assert out.returncode == 0
    ids = [c["id"] for c in json.loads(out.stdout)]
    assert ids[0] == "KD101" and "KD201" in ids


HOSTILE = "[red]x[/red][link=http://evil]y[/link]\x1b[31mred\x1b]8;;http://e\x07"


def test_object_text_is_never_markup_or_terminal_escape() -> None:
    report = run([svc(selector={"app": HOSTILE}), pod("web-1", {"app": "other"})])
    buf = io.StringIO()
    render_text(report, Console(file=buf, force_terminal=True, color_system="truecolor", width=200))
    text = buf.getvalue()
    assert "[red]x[/red]" in text and "[link=http://evil]" in text  # printed literally, not interpreted
    assert "\x1b]8;;http://e" not in text  # no hyperlink escape from object text
    assert "\\x1b[31mred" in text  # the raw escape is shown, escaped
    assert "\x1b[31mred" not in text
    assert "\\x1b" in to_markdown(report)


def test_sanitize() -> None:
    assert sanitize("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert sanitize("line\nnext") == "line\nnext"
    assert sanitize("\u202eevil") == "\\x202eevil"


def test_quick_exit_flushes_and_runs_atexit_handlers(tmp_path: Path) -> None:
    """audit and svc end without the interpreter's teardown, but nothing written or registered is lost:
    buffered stdout is flushed and the atexit handlers (the client's temporary certificate files) run."""
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, sys\n"
        "from kubediag import cli\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').close())\n"
        "sys.stdout.write('report' * 10000)\n"
        "cli._quick_exit(1)\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 1, out
    assert out.stdout == "report" * 10000
    assert marker.exists()
