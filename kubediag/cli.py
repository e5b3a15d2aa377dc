"""The `kubediag` command line. `--help`, `checks` and `explain` never import the `kubernetes` package."""

from __future__ import annotations

import contextlib
import enum
import gc
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import typer

from kubediag import __version__
from kubediag.model import ExitCode, Severity, Status
from kubediag.text import is_dns1035_label, is_dns1123_label, is_dns1123_subdomain

app = typer.Typer(
    name="kubediag",
    help="Find the one root cause when a Kubernetes Service doesn't work: evidence and fix, in seconds.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Output(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class AuditOutput(enum.StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    junit = "junit"


class FailOn(enum.StrEnum):
    critical = "critical"
    warning = "warning"


class UsageError(Exception):
    """Bad input: exit 2 before any request."""


def _err(message: str) -> None:
    from kubediag.report import sanitize

    sys.stderr.write(f"kubediag: {sanitize(message)}\n")


def _exit(code: ExitCode) -> NoReturn:
    raise typer.Exit(int(code))


def _stdout_console(no_color: bool = False) -> Any:
    from rich.console import Console

    color = None if not (no_color or os.environ.get("NO_COLOR")) else "never"
    return Console(
        file=sys.stdout,
        highlight=False,
        soft_wrap=True,
        no_color=color == "never",
        force_terminal=None,
        emoji=False,
        markup=False,
    )


def exit_code_for(status: Status, worst: Severity | None, fail_on: FailOn) -> ExitCode:
    if status is Status.UNKNOWN:
        return ExitCode.UNKNOWN
    threshold = Severity.CRITICAL if fail_on is FailOn.critical else Severity.WARNING
    if worst is not None and worst.rank >= threshold.rank:
        return ExitCode.FINDINGS
    return ExitCode.OK


def _validate_namespace(ns: str) -> None:
    if not is_dns1123_label(ns):
        raise UsageError(
            f"invalid namespace {ns!r}: must be a DNS-1123 label (lowercase letters, digits, '-')"
        )


def _parse_from(value: str | None, default_ns: str) -> tuple[str, str] | None:
    if not value:
        return None
    ns, _, pod = value.rpartition("/")
    ns = ns or default_ns
    _validate_namespace(ns)
    if not is_dns1123_subdomain(pod):
        raise UsageError(f"invalid pod name {pod!r} in --from: expected [NAMESPACE/]POD")
    return ns, pod


def _run_guarded(debug: bool, fn: Any) -> None:
    """Turn every failure into one line and a documented exit code; --debug adds the traceback."""
    from kubediag.retry import DeadlineExceeded

    try:
        fn()
    except typer.Exit:
        raise
    except UsageError as exc:
        _err(str(exc))
        _exit(ExitCode.USAGE)
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(130) from None
    except DeadlineExceeded as exc:
        if debug:
            traceback.print_exc()
        _err(f"timed out: {exc}")
        _exit(ExitCode.CLUSTER)
    except Exception as exc:
        from kubediag.gather import ClusterError, ConfigError

        if debug:
            traceback.print_exc()
        if isinstance(exc, ConfigError):
            _err(str(exc))
            _exit(ExitCode.USAGE)
        if isinstance(exc, ClusterError):
            _err(str(exc))
            _exit(ExitCode.CLUSTER)
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        _exit(ExitCode.UNKNOWN)


def _debug_log(client: Any) -> None:
    for (method, path, status, seconds), query in zip(client.log.entries, client.log.queries, strict=True):
        tail = f" query {query}" if query else ""
        sys.stderr.write(f"debug: {method} {path} -> {status} in {seconds * 1000:.0f} ms{tail}\n")
    sys.stderr.write(f"debug: {len(client.log.entries)} request(s) to {client.server}\n")


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to the kubeconfig file.", envvar=None)
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1.0, help="Overall deadline in seconds.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show requests and tracebacks on stderr.")]
FailOnOpt = Annotated[
    FailOn, typer.Option("--fail-on", help="Exit 1 on a finding at or above this severity.")
]
ProbeOpt = Annotated[
    bool,
    typer.Option(
        "--probe",
        help="Also test the data plane: port-forward through the API server to a sample of ready endpoints "
        "(TCP connect, one GET on HTTP ports). Needs create pods/portforward; opens connections, changes nothing.",
    ),
]
ProbeSampleOpt = Annotated[
    int, typer.Option("--probe-sample", min=1, max=50, help="Endpoints probed per Service with --probe.")
]
MaskOpt = Annotated[
    bool,
    typer.Option(
        "--mask",
        help="Replace label values, IPs and host names with stable placeholders (for public tickets).",
    ),
]


@app.command("svc")
def svc_cmd(
    name: Annotated[str, typer.Argument(help="The Service's name.")],
    namespace: Annotated[
        str | None,
        typer.Option("-n", "--namespace", help="Namespace (default: the context's, then 'default')."),
    ] = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    output: Annotated[Output, typer.Option("-o", "--output", help="Report format.")] = Output.text,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Client pod [NAMESPACE/]POD: evaluate its path (NetworkPolicy ingress, egress and DNS).",
        ),
    ] = None,
    fail_on: FailOnOpt = FailOn.critical,
    timeout: TimeoutOpt = 30.0,
    mask: MaskOpt = False,
    probe: ProbeOpt = False,
    probe_sample: ProbeSampleOpt = 5,
    debug: DebugOpt = False,
) -> None:
    """Diagnose one Service: the root cause first, then the chain of checks, then the fix."""

    def run() -> None:
        if not is_dns1035_label(name):
            raise UsageError(
                f"invalid Service name {name!r}: must be a DNS-1035 label "
                "(lowercase letters, digits, '-', starting with a letter)"
            )
        if namespace is not None:
            _validate_namespace(namespace)
        if from_ is not None:
            _parse_from(from_, namespace or "default")  # syntax first, before any request
        from kubediag.engine import diagnose
        from kubediag.gather import Client, gather_service
        from kubediag.snapshot import ClientRef, Snapshot

        client = Client(kubeconfig=kubeconfig, context=context, timeout=timeout)
        ns = namespace or client.default_namespace
        client_ref = _parse_from(from_, ns)
        try:
            with _gc_paused():
                data = gather_service(client, ns, name, client_ref)
            if probe:
                data = _with_probe(client, data, ns, name, probe_sample)
        finally:
            if debug:
                _debug_log(client)
        snap = Snapshot(ns, name, data, ClientRef(*client_ref) if client_ref else None)
        report = diagnose(snap)
        emit_report(report, output, mask, snap)
        _exit(exit_code_for(report.status, report.worst, fail_on))

    _run_guarded(debug, run)


def _with_probe(client: Any, data: Any, namespace: str, name: str, sample: int, deadline: float | None = None) -> Any:
    """--probe after gathering: port-forward through the API server (kubediag.gather.probe_service)."""
    import dataclasses

    from kubediag.gather import probe_service
    from kubediag.probes import DataPlane

    run = probe_service(client, data, namespace, name, sample, deadline)
    plane = data.data_plane or DataPlane()
    return dataclasses.replace(data, data_plane=dataclasses.replace(plane, probe=run))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing large LIST responses allocates millions of containers and none of them is garbage: pause
    the cycle collector meanwhile, then freeze what was read so later collections skip it."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def emit_report(report: Any, output: Output, mask: bool, snap: Any) -> None:
    from kubediag import report as rpt

    if mask:
        from kubediag.mask import Masker

        masker = Masker.from_data(snap.data)
        report = masker.report(report)
    if output is Output.json:
        sys.stdout.write(rpt.to_json(report) + "\n")
    elif output is Output.markdown:
        sys.stdout.write(rpt.to_markdown(report))
    else:
        rpt.render_text(report, _stdout_console())


@app.command("checks")
def checks_cmd(
    output: Annotated[Output, typer.Option("-o", "--output", help="Format.")] = Output.text,
) -> None:
    """List every check of the chain, in order."""
    from kubediag.docs import checks_json, checks_markdown, checks_text

    if output is Output.json:
        sys.stdout.write(checks_json() + "\n")
    elif output is Output.markdown:
        sys.stdout.write(checks_markdown())
    else:
        sys.stdout.write(checks_text())


@app.command("explain")
def explain_cmd(
    check_id: Annotated[str, typer.Argument(help="A check ID, e.g. KD201, or a category.")],
) -> None:
    """Print one check's documentation."""
    from kubediag.checks.base import get_check, ordered_checks

    chk = get_check(check_id) or next(
        (c for c in ordered_checks() if c.category.value == check_id.lower()), None
    )
    if chk is None:
        _err(f"unknown check {check_id!r}; `kubediag checks` lists them")
        _exit(ExitCode.USAGE)
    sys.stdout.write(chk.docs_markdown())


@app.command("audit")
def audit_cmd(
    all_namespaces: Annotated[
        bool, typer.Option("-A", "--all-namespaces", help="Every namespace (one cluster-wide LIST per kind).")
    ] = False,
    namespaces: Annotated[
        list[str] | None,
        typer.Option("-n", "--namespace", help="Namespace to audit; repeat for several (default: the context's)."),
    ] = None,
    selector: Annotated[
        str | None, typer.Option("-l", "--selector", help="Only Services with these labels (kubectl syntax).")
    ] = None,
    exclude_namespaces: Annotated[
        list[str] | None,
        typer.Option("--exclude-namespace", help="Skip the Services of this namespace; repeatable."),
    ] = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    output: Annotated[
        AuditOutput, typer.Option("-o", "--output", help="text | json | jsonl (one Service per line) | markdown | junit.")
    ] = AuditOutput.text,
    fail_on: FailOnOpt = FailOn.critical,
    timeout: TimeoutOpt = 120.0,
    page_size: Annotated[
        int, typer.Option("--page-size", min=10, max=5000, help="Items per LIST page (limit + continue).")
    ] = 500,
    probe: ProbeOpt = False,
    probe_sample: ProbeSampleOpt = 5,
    probe_max: Annotated[
        int,
        typer.Option("--probe-max", min=1, max=1000, help="With --probe: endpoints probed in total (a global cap)."),
    ] = 50,
    debug: DebugOpt = False,
) -> None:
    """Diagnose every Service in scope with the svc chain: summary, cluster-wide findings, the unhealthy ones.

    Exit code as for svc, on the worst Service: 4 if any status is unknown, 1 on a finding at or above
    --fail-on, else 0.
    """

    def run() -> None:
        if all_namespaces and namespaces:
            raise UsageError("-A/--all-namespaces and -n/--namespace exclude each other")
        for ns in [*(namespaces or []), *(exclude_namespaces or [])]:
            _validate_namespace(ns)
        from kubediag import audit

        if selector is not None and (problem := audit.label_selector_error(selector)):
            raise UsageError(problem)
        import datetime
        from concurrent.futures import ThreadPoolExecutor

        from kubediag.gather import Client, gather_scope

        client = Client(kubeconfig=kubeconfig, context=context, timeout=timeout)
        scope_ns = None if all_namespaces else tuple(dict.fromkeys(namespaces or [client.default_namespace]))
        scope = audit.Scope(scope_ns, frozenset(exclude_namespaces or ()), selector)
        generated_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with audit.Progress(sys.stderr) as progress, ThreadPoolExecutor(1) as side:
                version = side.submit(client.version)
                with _gc_paused():
                    data = gather_scope(
                        client,
                        scope.namespaces,
                        page=page_size,
                        label_selector=selector,
                        progress=progress.on_page,
                    )
                if probe:
                    import dataclasses

                    from kubediag.gather import probe_scope

                    plane = probe_scope(
                        client, data, audit.services_in_scope(data, scope), probe_sample, probe_max
                    )
                    data = dataclasses.replace(data, data_plane=plane)
                progress.start_diagnosis(len(audit.services_in_scope(data, scope)))
                result = audit.run(
                    data,
                    scope,
                    server=client.server,
                    version=version.result(),
                    generated_at=generated_at,
                    on_service=progress.on_service,
                )
        finally:
            if debug:
                _debug_log(client)
        known = {n.get("metadata", {}).get("name") for n in data.namespaces}
        for ns in scope.namespaces or ():
            if data.namespaces and ns not in known:
                _err(f"warning: namespace {ns} does not exist")
        if result.incomplete and output is not AuditOutput.text:
            _err(
                "warning: audit incomplete: "
                + "; ".join(u.describe() for u in result.unavailable)
                + " (the checks needing them are skipped)"
            )
        if output is AuditOutput.json:
            sys.stdout.write(audit.to_json(result) + "\n")
        elif output is AuditOutput.jsonl:
            audit.write_lines(audit.iter_jsonl(result), sys.stdout.write)
        elif output is AuditOutput.markdown:
            sys.stdout.write(audit.to_markdown(result))
        elif output is AuditOutput.junit:
            sys.stdout.write(audit.to_junit(result, _threshold(fail_on)))
        else:
            audit.render_text(result, _stdout_console())
        _exit(audit.exit_code(result, _threshold(fail_on)))

    _run_guarded(debug, run)


def _threshold(fail_on: FailOn) -> Severity:
    return Severity.CRITICAL if fail_on is FailOn.critical else Severity.WARNING


class RbacOutput(enum.StrEnum):
    text = "text"
    yaml = "yaml"
    json = "json"


@app.command("rbac")
def rbac_cmd(
    output: Annotated[
        RbacOutput, typer.Option("-o", "--output", help="text (a table) | yaml | json (a ClusterRole or Role).")
    ] = RbacOutput.text,
    namespace: Annotated[
        str | None,
        typer.Option("-n", "--namespace", help="A Role for this namespace (audit -n) instead of a ClusterRole."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The role's name.")] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Print the extra rule --probe needs (create pods/portforward).")
    ] = False,
) -> None:
    """Print the exact RBAC rules kubediag needs (get and list only; generated from the kinds it reads)."""

    def run() -> None:
        if namespace is not None:
            _validate_namespace(namespace)
        role_name = name or ("kubediag-probe" if probe else "kubediag")
        if not is_dns1123_subdomain(role_name):
            raise UsageError(f"invalid role name {role_name!r}: must be a DNS-1123 subdomain")
        from kubediag import rbac

        if probe:
            if output is RbacOutput.yaml:
                sys.stdout.write(rbac.probe_to_yaml(namespace, role_name))
            elif output is RbacOutput.json:
                import json

                sys.stdout.write(json.dumps(rbac.probe_role(namespace, role_name), indent=2) + "\n")
            else:
                sys.stdout.write(rbac.probe_to_text(namespace))
            return
        name_ = role_name
        if output is RbacOutput.yaml:
            sys.stdout.write(rbac.to_yaml(namespace, name_))
        elif output is RbacOutput.json:
            sys.stdout.write(rbac.to_json(namespace, name_) + "\n")
        else:
            sys.stdout.write(rbac.to_text(namespace))

    _run_guarded(False, run)


@app.command("version")
def version_cmd() -> None:
    """Print kubediag's version."""
    sys.stdout.write(f"kubediag {__version__}\n")


def main() -> None:
    try:
        app()
    except Exception as exc:  # a last guard: one line, never a traceback without --debug
        if "--debug" in sys.argv:
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        sys.exit(int(ExitCode.UNKNOWN))
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        if isinstance(code, int) and code not in (0, 1, 2, 3, 4, 130):
            code = int(ExitCode.USAGE)
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
