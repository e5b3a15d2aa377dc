"""kubediag benchmark (`make bench`, BENCH_ARGS="--size small"): seeds the local KWOK cluster and measures

  - `kubediag audit -A -o json`: wall time and peak RSS (median of --runs), API requests (from --debug);
  - the floor: the same LIST requests as plain HTTPS GETs, read as bytes and not parsed, kinds in parallel;
  - the diagnosis stage alone: `diagnose` over every Service of a saved snapshot, in-process;
  - `kubediag svc` on Services of the largest namespace: wall time and requests;
  - `kubediag --help`: wall time, and that the `kubernetes` package is not imported.

Prints a table (metric, median, target, pass/fail) and writes bench/results/<utc>-<size>.json and
bench/results/latest-<size>.json. Progress goes to stderr. Only the API server on 127.0.0.1 is contacted.

  python bench/run.py --size small                 # seed (or reuse), measure, clean up
  python bench/run.py --size default --keep        # leave the seed for the next run (reused automatically)
  python bench/run.py --snapshot FILE --only diagnosis   # re-time the diagnosis stage without a cluster
  python bench/run.py --size large --synthetic --only diagnosis   # the same on the plan, built in-process
  python bench/run.py --cleanup                    # delete every bench object
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from kube import Kube, KubeConfig  # noqa: E402
from seed import (  # noqa: E402
    SIZES,
    Plan,
    cleanup,
    log,
    make_plan,
    seed,
    seeded_state,
)

VENV_BIN = Path(sys.executable).parent
KUBEDIAG = str(VENV_BIN / "kubediag")
MEASUREMENTS = ("help", "audit", "floor", "diagnosis", "svc", "peers")

# issue #14's targets per size: audit wall / floor, peak RSS (MB), diagnosis stage (s), svc wall (s)
TARGETS: dict[str, tuple[float, float, float, float]] = {
    "small": (2.0, 150, 0.4, 0.4),
    "default": (2.0, 150, 0.4, 0.4),
    "large": (2.5, 350, 2.0, 0.8),
    "xl": (3.0, 512 * 1.048576, 5.0, 1.5),
}
DEBUG_LINE = re.compile(r"^debug: (GET|POST|PUT|PATCH|DELETE) (\S+) -> (\S+) in (\d+) ms(?: query \S*)?$")
DEBUG_TOTAL = re.compile(r"^debug: (\d+) request\(s\) to (\S+)$")


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ---- running kubediag -------------------------------------------------------------------------------------
# A process spawned by this one starts as a copy of it: Linux counts the pages it had before exec in its
# ru_maxrss, so a child of the bench (whose own RSS grows with the floor's parsed pages) would report at
# least the bench's size. The launcher is a small Python process that runs argv and reports its child's
# wall time and peak RSS (a child of a ~10 MB process: only that program's own pages count). With a cap
# (MiB; the peers, `run_capped`) it polls the child's resident set every 20 ms and kills it (SIGKILL) once
# it passes the cap, or after `timeout` seconds.
_LAUNCHER = """
import os, resource, subprocess, sys, time
res, cap, timeout, argv = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
start = time.perf_counter()
killed, at_kill = "-", 0
if not cap:
    code = subprocess.call(argv)
else:
    proc = subprocess.Popen(argv)
    page, deadline = os.sysconf("SC_PAGE_SIZE"), time.monotonic() + timeout
    while (code := proc.poll()) is None:
        if killed == "-":
            try:
                with open(f"/proc/{proc.pid}/statm") as f:
                    rss = int(f.read().split()[1]) * page
            except (OSError, IndexError, ValueError):
                rss = 0
            if rss > cap * 2**20:
                killed, at_kill = "memory-cap", rss
                proc.kill()
            elif time.monotonic() > deadline:
                killed = "timeout"
                proc.kill()
        time.sleep(0.02)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(res, "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {code} {killed} {at_kill} {usage.ru_utime + usage.ru_stime}")
"""


def run_timed(
    argv: list[str], stdout: Any = subprocess.DEVNULL, timeout: float = 900, cpu: list[float] | None = None
) -> tuple[float, int, int, str]:
    """Run argv; (wall seconds, peak RSS in KiB of that child, exit code, stderr). `cpu` gets the child's
    CPU seconds (user + system) appended."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as res:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, res.name, "0", "0", *argv],
            stdout=stdout,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{' '.join(argv)}: not done after {timeout:.0f}s") from None
        wall, maxrss, code, _, _, used = res.read().split()
        if cpu is not None:
            cpu.append(float(used))
        err.seek(0)
        return float(wall), int(maxrss), int(code), err.read().decode("utf-8", "replace")


def parse_debug(stderr: str) -> tuple[list[tuple[str, str, str, int]], int | None, str | None]:
    reqs, total, server = [], None, None
    for line in stderr.splitlines():
        if m := DEBUG_LINE.match(line):
            reqs.append((m.group(1), m.group(2), m.group(3), int(m.group(4))))
        elif m := DEBUG_TOTAL.match(line):
            total, server = int(m.group(1)), m.group(2)
    return reqs, total, server


def stat(xs: list[float], nd: int = 3) -> dict[str, Any]:
    return {
        "median": round(median(xs), nd),
        "min": round(min(xs), nd),
        "max": round(max(xs), nd),
        "runs": [round(x, nd) for x in xs],
    }


# ---- peers: the same cluster read by Popeye and k8sgpt, when bench/peers.sh has built them ----------------
PEER_ARGV: dict[str, list[str]] = {
    # every namespace, JSON report, no exit code on findings: one full scan, like `audit -A`
    "popeye": ["-A", "-o", "json", "--force-exit-zero"],
    # the analyzers for kubediag's ground (no AI backend: --explain is off)
    "k8sgpt": ["analyze", "--filter", "Service,Pod,Ingress,NetworkPolicy,Deployment", "-o", "json"],
}


def peer_errors(name: str, out: bytes) -> list[str]:
    """The errors a peer reports in its own JSON output: a resource it failed to read is left out of its
    scan, so such a run is incomplete, not a figure (Popeye's client gives each request 30 s, hard-coded:
    on a loaded machine its one LIST of every pod times out and Popeye reports no pods at all)."""
    try:
        doc = json.loads(out)
    except ValueError:
        return [f"no JSON on stdout ({len(out)} bytes)"]
    errs = (doc.get("popeye") or {}).get("errors") if name == "popeye" else doc.get("errors")
    if not errs:
        return []
    if isinstance(errs, dict):
        return [f"{k}: {v}" for k, v in errs.items()]
    return [str(e) for e in errs]


def peer_binaries() -> dict[str, str]:
    out = subprocess.run(
        ["bash", str(HERE / "peers.sh"), "--print"], capture_output=True, text=True, check=False
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def mem_available_mib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def default_peer_cap_mib() -> float:
    """16 GiB, or what the machine has available less 4 GiB for everything else, at least 1 GiB."""
    avail = mem_available_mib()
    return max(1024.0, min(16384.0, (avail - 4096) if avail else 16384.0))


def run_capped(argv: list[str], timeout: float, cap_mib: float) -> dict[str, Any]:
    """Run argv under a memory cap, through the launcher (as `run_timed`: the peak RSS is the peer's own):
    its resident set is read from /proc every 20 ms and it is killed (SIGKILL) once it passes `cap_mib`, or
    after `timeout` seconds. (A userspace cap: this machine's cgroup v2 has no memory controller; a Go peer
    grows by far less than the cap in 20 ms.)
    {wall_s, peak_rss_mb, exit_code, killed: None | "memory cap" | "timeout", stdout, stderr_tail}"""
    with (
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as stdout,
        tempfile.NamedTemporaryFile("r") as res,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, res.name, str(max(cap_mib, 1.0)), str(timeout), *argv],
            stdout=stdout,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout + 60)
        except subprocess.TimeoutExpired:  # the launcher itself is stuck: never seen
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{' '.join(argv)}: not done after {timeout:.0f}s") from None
        wall, maxrss, code, how, at_kill, _ = res.read().split()
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
        stdout.seek(0)
        text = stdout.read()
    killed = {"-": None, "memory-cap": "memory cap", "timeout": "timeout"}[how]
    out: dict[str, Any] = {
        "stdout": text,
        "wall_s": round(float(wall), 3),
        "peak_rss_mb": round(int(maxrss) * 1024 / 1e6, 1),
        "exit_code": int(code),
        "killed": killed,
    }
    if killed == "memory cap":
        out["rss_mb_at_kill"] = round(int(at_kill) / 1e6, 1)
    if killed or out["exit_code"] != 0:
        out["stderr_tail"] = tail
    return out


def measure_peers(runs: int, timeout: float, cap_mib: float) -> dict[str, Any]:
    """Wall time and peak RSS of each peer tool present (absent ones are listed as such), each run under a
    memory cap and a timeout: a peer killed by either is reported as killed, and not run again."""
    res: dict[str, Any] = {}
    found = peer_binaries()
    for name, argv in PEER_ARGV.items():
        if name not in found:
            res[name] = {"absent": "run bench/peers.sh to build it"}
            continue
        n = max(1, min(runs, 3))
        log(
            f"peers: {n} run(s) of {name} {' '.join(argv)} (memory cap {cap_mib / 1024:.1f} GiB, timeout {timeout:.0f}s)"
        )
        walls, rss, codes = [], [], []
        incomplete: list[dict[str, Any]] = []
        kill = None
        for i in range(n):
            r = run_capped([found[name], *argv], timeout, cap_mib)
            log(
                f"  {name} {i + 1}/{n}: {r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']:.0f} MB, exit {r['exit_code']}"
                + (f", KILLED ({r['killed']})" if r["killed"] else "")
            )
            if r["killed"]:
                kill = r
                break
            code = r["exit_code"]
            errs = (
                [f"killed by signal {-code} (not by the bench)"]
                if code < 0
                else peer_errors(name, r["stdout"])
            )
            if errs:
                log(f"  {name} {i + 1}/{n}: INCOMPLETE, its output reports: {'; '.join(errs)[:500]}")
                incomplete.append(
                    {"run": i + 1, "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"], "errors": errs}
                )
                continue
            walls.append(r["wall_s"])
            rss.append(r["peak_rss_mb"])
            codes.append(r["exit_code"])
            if r["exit_code"] != 0:
                log(f"  {name} exited {r['exit_code']}: {r.get('stderr_tail', '')[-300:]}")
        m: dict[str, Any] = {"cap_mib": round(cap_mib), "timeout_s": timeout, "exit_codes": codes}
        if walls:
            m.update(wall_s=stat(walls), peak_rss_mb=stat(rss, 0))
        if incomplete:
            m["incomplete_runs"] = incomplete
        if kill:
            m["killed"] = {
                k: kill[k] for k in ("killed", "wall_s", "peak_rss_mb", "rss_mb_at_kill") if k in kill
            }
            m["killed"]["run"] = len(walls) + 1
        res[name] = m
    return res


# ---- measurements ---------------------------------------------------------------------------------------
def measure_help(runs: int) -> dict[str, Any]:
    log(f"help: {runs} runs of kubediag --help")
    walls = []
    for _ in range(runs):
        wall, _, code, _ = run_timed([KUBEDIAG, "--help"])
        if code != 0:
            raise RuntimeError(f"kubediag --help exited {code}")
        walls.append(wall)
    probe = (
        "import sys\nsys.argv=['kubediag','--help']\nfrom kubediag import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('KUBERNETES_IMPORTED=%s\\n' % any(m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules))\n"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    imported = "KUBERNETES_IMPORTED=True" in p.stderr
    return {"wall_s": stat(walls), "imports_kubernetes": imported}


def measure_audit(kube: Kube, runs: int, timeout: float, floor: bool) -> dict[str, Any]:
    """One `audit -A --debug` run (request count and paths), then `runs` rounds of: a timed audit, the
    floor, and the floor with json.loads, interleaved so all three see the same machine conditions
    (the API server shares the 2 cores with the client, and other work on the machine comes and goes)."""
    argv = [KUBEDIAG, "audit", "-A", "-o", "json", "--timeout", str(int(timeout))]
    log(
        f"audit: 1 --debug run, then {runs} rounds of: {' '.join(argv[1:])}"
        + (", floor, floor + json.loads" if floor else "")
    )
    wall, rss, code, err = run_timed([*argv, "--debug"], timeout=timeout + 60)
    reqs, total, server = parse_debug(err)
    if code not in (0, 1, 4):
        raise RuntimeError(f"kubediag audit --debug exited {code}: {err[-2000:]}")
    log(f"  --debug run: {wall:.2f}s, {total} requests, exit {code}")
    once = floor_runner(kube, [p for _, p, _, _ in reqs]) if floor else None
    walls: list[float] = []
    rsss: list[float] = []
    fwalls: list[float] = []
    pwalls: list[float] = []
    out_doc = None
    detail: dict[str, tuple[int, int]] = {}
    for i in range(runs):
        with tempfile.TemporaryFile() as out:
            wall, rss, code, err = run_timed(argv, stdout=out, timeout=timeout + 60)
            if code not in (0, 1, 4):
                raise RuntimeError(f"kubediag audit exited {code}: {err[-2000:]}")
            walls.append(wall)
            rsss.append(rss * 1024 / 1e6)  # ru_maxrss is in KiB; MB here, as the targets
            if i == runs - 1:
                out.seek(0)
                out_doc = json.load(out)
        note = f"  round {i + 1}/{runs}: audit {wall:.2f}s, peak RSS {rss * 1024 / 1e6:.0f} MB, exit {code}"
        if once is not None:
            took, detail = once(False)
            fwalls.append(took)
            gc.disable()  # the cost of parsing itself: collections over a growing heap are a separate matter
            try:
                ptook, _ = once(True)
            finally:
                gc.enable()
            pwalls.append(ptook)
            note += f"; floor {took:.2f}s; floor + json.loads {ptook:.2f}s"
        log(note)
    per_path = Counter(p for _, p, _, _ in reqs)
    res: dict[str, Any] = {
        "argv": argv[1:],
        "wall_s": stat(walls),
        "peak_rss_mb": stat(rsss, 1),
        "peak_rss_mib": stat([x * 1e6 / 2**20 for x in rsss], 1),
        "requests": total,
        "requests_logged": len(reqs),
        "debug_total_line": total is not None,
        "server": server,
        "pages_per_path": dict(per_path),
        "debug_requests": [{"method": m, "path": p, "status": s, "ms": ms} for m, p, s, ms in reqs],
        "exit_code": code,
        "output": out_doc,
    }
    if once is not None:
        jobs, workers = floor_jobs([p for _, p, _, _ in reqs])
        floor_pages: Counter[str] = Counter()
        for key, n in detail.items():
            floor_pages[key.split("?")[0]] += n[0]
        res["floor"] = {
            "wall_s": stat(fwalls),
            "with_json_loads_s": stat(pwalls),
            "jobs": [{"path": p, "query": q, "page": pg} for p, q, pg in jobs],
            "workers": workers,
            "pages": {p: v[0] for p, v in detail.items()},
            "bytes": {p: v[1] for p, v in detail.items()},
            "total_mb": round(sum(v[1] for v in detail.values()) / 1e6, 1),
            "same_requests_as_audit": dict(floor_pages) == dict(per_path),
        }
        if not res["floor"]["same_requests_as_audit"]:
            log(
                f"WARNING: the floor's requests per path {dict(floor_pages)} differ from audit's {dict(per_path)}"
            )
    return res


def floor_jobs(paths: list[str]) -> tuple[list[tuple[str, dict[str, str], int]], int]:
    """(path, query, page) for each distinct path kubediag's audit requested, and gather_scope's concurrency.

    `--debug` prints paths without their query, so the queries come from kubediag.gather itself (the
    server-side filters of the audit LISTs: `scope_queries`, or the older `scope_query`)."""
    import inspect

    from kubediag import gather

    by_path = {gather.kind_path(k, None): k for k in gather.Kind}
    queries: Callable[[Any], list[dict[str, str]]] = getattr(gather, "scope_queries", None) or (
        lambda k: [gather.scope_query(k)]  # type: ignore[attr-defined]
    )
    jobs: list[tuple[str, dict[str, str], int]] = []
    for path in dict.fromkeys(paths):
        kind = by_path.get(path)
        if kind is None:
            jobs.append((path, {}, 0))  # /version
        else:
            jobs += [(path, dict(q), 500) for q in queries(kind)]
    workers = inspect.signature(gather.gather_scope).parameters["workers"].default
    return jobs, int(workers)


def floor_runner(kube: Kube, paths: list[str]) -> Callable[[bool], tuple[float, dict[str, tuple[int, int]]]]:
    """The floor: kubediag's audit requests as plain HTTPS GETs (same paths, queries, page size and
    concurrency: kinds in parallel, pages of one LIST in sequence), read as bytes; with `parse`, each page
    is also json.loads'ed. Returns a function running it once: (seconds, {path?query: (pages, bytes)})."""
    jobs, workers = floor_jobs(paths)
    lists = [j for j in jobs if j[2]]
    others = [j for j in jobs if not j[2]]
    log(f"  floor: {len(lists)} paginated LISTs ({workers} in parallel) + {len(others)} GET(s)")

    def once(parse: bool) -> tuple[float, dict[str, tuple[int, int]]]:
        kubes: list[Kube] = []

        def fetch(job: tuple[str, dict[str, str], int]) -> tuple[str, tuple[int, int]]:
            k = Kube(kube.cfg)  # a fresh connection per job, as kubediag opens its own
            kubes.append(k)
            key = job[0] + ("?" + "&".join(f"{a}={b}" for a, b in job[1].items()) if job[1] else "")
            return key, k.fetch_pages(job[0], job[1], job[2], parse)

        start = time.perf_counter()
        with ThreadPoolExecutor(1) as side, ThreadPoolExecutor(max(1, min(workers, len(lists)))) as pool:
            side_f = [side.submit(fetch, j) for j in others]
            res = dict(pool.map(fetch, lists))
            res.update(f.result() for f in side_f)
        took = time.perf_counter() - start
        for k in kubes:
            k.close()
        return took, res

    return once


# ---- the diagnosis stage ----------------------------------------------------------------------------------
def snap_fields() -> tuple[str, ...]:
    """Every kind of the store (typed kinds are saved as plain JSON and converted back on load)."""
    from kubediag.model import Kind

    return tuple(k.value for k in Kind)


def save_snapshot(data: Any, path: Path) -> None:
    import msgspec

    from kubediag.model import Kind

    # encoded straight from the objects (typed or plain): no second copy of a 150,000-pod snapshot as dicts
    doc: dict[str, Any] = {f: data.of(Kind(f)) for f in snap_fields()}
    doc["read"] = sorted(k.value for k in data.read)
    doc["unavailable"] = {
        k.value: {"reason": u.reason, "detail": u.detail} for k, u in data.unavailable.items()
    }
    doc["server"] = data.server
    path.write_bytes(msgspec.json.encode(doc))


def load_snapshot(path: Path) -> Any:
    from kubediag.kinds import from_builtin, share_pod_parts
    from kubediag.model import Kind, Unavailable
    from kubediag.snapshot import ClusterData

    doc = json.loads(path.read_text())
    objects = {Kind(f): tuple(from_builtin(Kind(f), o) for o in doc.get(f, ())) for f in snap_fields()}
    pods = objects[Kind.POD]
    for i in range(0, len(pods), 500):  # as the gatherer decodes them: pages of 500 that share equal parts
        share_pod_parts(pods[i : i + 500])
    return ClusterData(
        objects=objects,
        read=frozenset(Kind(k) for k in doc["read"]),
        unavailable={
            Kind(k): Unavailable(Kind(k), v["reason"], v["detail"]) for k, v in doc["unavailable"].items()
        },
        server=doc.get("server", ""),
    )


def fresh(data: Any) -> Any:
    """The same objects in a new ClusterData: its cached indexes are rebuilt, as in a real run."""
    from dataclasses import fields

    from kubediag.snapshot import ClusterData

    # compare=False fields are caches (ClusterData.memo): never carried over, or later runs would be warm
    return ClusterData(**{f.name: getattr(data, f.name) for f in fields(data) if f.init and f.compare})


def gather_in_process(runs: int, timeout: float) -> tuple[Any, dict[str, Any]]:
    """kubediag.gather.gather_scope in this process, as is and with the cyclic GC paused (what a
    gc.disable()/gc.freeze() around the gather would give: json.loads of tens of MB creates millions of
    objects, and every full collection rescans the growing heap)."""
    from kubediag.gather import Client, gather_scope

    out: dict[str, Any] = {}
    data = None
    for label, paused in (("wall_s", False), ("gc_paused_wall_s", True)):
        walls = []
        for i in range(runs):
            data = None
            gc.collect()
            client = Client(timeout=timeout)
            if paused:
                gc.disable()
            try:
                start = time.perf_counter()
                data = gather_scope(client, None)
                walls.append(time.perf_counter() - start)
            finally:
                gc.enable()
            what = "GC paused" if paused else "as is"
            log(
                f"  in-process gather_scope ({what}) {i + 1}/{runs}: {walls[-1]:.2f}s ({len(client.log.entries)} requests)"
            )
        out[label] = stat(walls)
    return data, out


def measure_diagnosis(data: Any, runs: int) -> dict[str, Any]:
    from kubediag.checks.base import ordered_checks
    from kubediag.engine import diagnose
    from kubediag.snapshot import Snapshot, name_of, ns_of

    services = sorted(data.services, key=lambda s: (ns_of(s), name_of(s)))
    chain = ordered_checks()
    log(f"diagnosis: {runs} runs of diagnose() over {len(services)} Services (fresh indexes each run)")
    statuses: Counter[str] = Counter()
    reports: list[Any] = []

    cpus: list[float] = []

    def timed_runs(label: str) -> list[float]:
        nonlocal reports
        walls = []
        for i in range(runs):
            d = fresh(data)
            reports = []
            gc.collect()  # start each run from the same heap state
            start, cpu = time.perf_counter(), time.process_time()
            reports = [diagnose(Snapshot(ns_of(s), name_of(s), d), chain) for s in services]
            walls.append(time.perf_counter() - start)
            used = time.process_time() - cpu
            if not label:
                cpus.append(used)
            log(f"  {label} run {i + 1}/{runs}: {walls[-1]:.3f}s (CPU {used:.3f}s)")
        return walls

    walls = timed_runs("")
    # The same with the gathered objects moved out of the collector's reach (gc.freeze), as a CLI that
    # froze them after gathering would run: collections then scan only what the diagnosis allocates.
    gc.freeze()
    try:
        frozen = timed_runs("gc.freeze:")
    finally:
        gc.unfreeze()
    statuses.update(r.status.value for r in reports)
    per_check_cpu: dict[str, float] = {}
    per_check = check_breakdown(data, services, chain, per_check_cpu)
    render: dict[str, Any] = {}
    try:  # the whole in-process audit after gathering: diagnose + cluster checks + JSON (audit.py is young)
        from kubediag import audit
        from kubediag.render import json as render_json

        rwalls = []
        for _ in range(max(1, min(runs, 3))):
            d = fresh(data)
            start = time.perf_counter()
            result = audit.run(d, audit.Scope(None), server=d.server)
            text = render_json.audit(result)
            rwalls.append(time.perf_counter() - start)
        render = {
            "audit_run_plus_json_s": stat(rwalls),
            "json_mb": round(len(text) / 1e6, 1),
            "_audit_doc": json.loads(text),  # what the audit found: popped by the caller, never written
        }
    except Exception as exc:  # report, never fail the bench on it
        render = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "wall_s": stat(walls),
        # the process's CPU time over the same runs: steadier than wall time on a shared machine
        "cpu_s": stat(cpus),
        "gc_frozen_wall_s": stat(frozen),
        "services": len(services),
        "per_service_ms": round(median(walls) / max(1, len(services)) * 1000, 3),
        "statuses": dict(statuses),
        "per_check_s": per_check,
        "per_check_cpu_s": per_check_cpu,
        **render,
    }


def check_breakdown(
    data: Any, services: list[Any], chain: list[Any], cpu_out: dict[str, float] | None = None
) -> dict[str, float]:
    """Seconds spent in each check's function over every Service (one run), slowest first; "(engine)" is the
        rest of diagnose() (skips, results, the report). `cpu_out` receives the same in CPU seconds of this thread
    (steadier than wall time when other work shares the machine)."""
    import dataclasses

    from kubediag.engine import diagnose
    from kubediag.snapshot import Snapshot, name_of, ns_of

    spent: Counter[str] = Counter()
    cpu: Counter[str] = Counter()

    def timed(chk: Any) -> Any:
        def run(snap: Any) -> Any:
            start, c0 = time.perf_counter(), time.thread_time()
            try:
                return list(chk.func(snap))  # checks are generators: time the iteration too
            finally:
                spent[chk.id] += time.perf_counter() - start
                cpu[chk.id] += time.thread_time() - c0

        return dataclasses.replace(chk, func=run)

    timed_chain = [timed(c) for c in chain]
    d = fresh(data)
    # as the timed runs: start from a collected heap, or the first full collection (after a gc.unfreeze(),
    # over every gathered object) is charged to whichever check happens to allocate then
    gc.collect()
    start, c0 = time.perf_counter(), time.thread_time()
    for s in services:
        diagnose(Snapshot(ns_of(s), name_of(s), d), timed_chain)
    spent["(engine)"] = time.perf_counter() - start - sum(spent.values())
    cpu["(engine)"] = time.thread_time() - c0 - sum(cpu.values())
    if cpu_out is not None:
        cpu_out.update({k: round(v, 3) for k, v in cpu.most_common()})
    return {k: round(v, 3) for k, v in spent.most_common()}


# ---- svc ------------------------------------------------------------------------------------------------------
def measure_svc(namespace: str, name: str, runs: int, label: str) -> dict[str, Any]:
    argv = [KUBEDIAG, "svc", name, "-n", namespace, "-o", "json"]
    log(f"svc ({label}): 1 --debug run, then {runs} timed runs of svc {name} -n {namespace}")
    _, _, code, err = run_timed([*argv, "--debug"])
    reqs, total, _ = parse_debug(err)
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            wall, _, code, _ = run_timed(argv, stdout=out, cpu=cpus)
            out.seek(0)
            doc = json.load(out) if code in (0, 1, 4) else None
        walls.append(wall)
    rc = (doc or {}).get("root_cause") or {}
    return {
        "service": f"{namespace}/{name}",
        "wall_s": stat(walls),
        "cpu_s": stat(cpus),
        "requests": total,
        "paths": [f"{m} {p} -> {s}" for m, p, s, _ in reqs],
        "status": (doc or {}).get("status"),
        "root_cause": rc.get("category"),
        "exit_code": code,
    }


# ---- what the audit found, per seeded kind ---------------------------------------------------------------
def found_per_kind(plan: Plan | None, audit_doc: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    if not plan or not audit_doc:
        return {}
    kinds = {(s.namespace, s.name): s.kind for s in plan.services}
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for rep in audit_doc.get("services") or []:
        svc = rep.get("service") or {}
        key = (svc.get("namespace"), svc.get("name"))
        if key not in kinds:
            continue
        rc = (rep.get("root_cause") or {}).get("category")
        out[kinds[key]][f"{rep.get('status')}:{rc}" if rc else str(rep.get("status"))] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


# ---- the table ------------------------------------------------------------------------------------------------
def row(
    metric: str, value: float | int | str | None, target: str, ok: bool | None, fmt: str = "{:.2f}"
) -> dict[str, Any]:
    shown = value if isinstance(value, str) or value is None else fmt.format(value)
    return {"metric": metric, "median": shown, "value": value, "target": target, "pass": ok}


def build_table(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    size_name = str((res.get("size") or {}).get("name"))
    t_ratio, t_rss, t_diag, t_svc = TARGETS.get(size_name, TARGETS["default"])
    seedr = res.get("seed")
    if seedr:
        what = (
            "reused"
            if seedr["reused"]
            else f"{seedr['seconds']:.0f} s ({seedr['method']}, {seedr['threads']} threads)"
        )
        rows.append(row("seeding", what, "", None))
    a, f, d = res.get("audit"), res.get("floor"), res.get("diagnosis")
    if a:
        wall = a["wall_s"]["median"]
        if size_name in ("small", "default"):  # the first bench's bound, for the default size; larger: none
            rows.append(row("audit -A -o json: wall (s)", wall, "< 15", wall < 15))
        else:
            rows.append(row("audit -A -o json: wall (s)", wall, "", None))
        if f:
            ratio = wall / f["wall_s"]["median"]
            rows.append(row("audit wall / floor", ratio, f"<= {t_ratio:g}", ratio <= t_ratio))
        rows.append(
            row(
                "audit: peak RSS (MB)",
                a["peak_rss_mb"]["median"],
                f"<= {t_rss:.0f}",
                a["peak_rss_mb"]["median"] <= t_rss,
                "{:.0f}",
            )
        )
        rows.append(row("audit: peak RSS, highest run (MiB)", a["peak_rss_mib"]["max"], "", None, "{:.0f}"))
        rows.append(row("audit: API requests", a["requests"], "", None, "{}"))
    if f:
        rows.append(row("floor: same LISTs, bytes only (s)", f["wall_s"]["median"], "", None))
        if "with_json_loads_s" in f:
            rows.append(
                row("floor + json.loads of each page (s)", f["with_json_loads_s"]["median"], "", None)
            )
            if a:
                ratio = a["wall_s"]["median"] / f["with_json_loads_s"]["median"]
                rows.append(row("audit wall / (floor + json.loads)", ratio, "", None))
    g = res.get("gather_in_process")
    if g:
        rows.append(row("gather_scope in-process (s)", g["wall_s"]["median"], "", None))
        if "gc_paused_wall_s" in g:
            rows.append(
                row("gather_scope in-process, GC paused (s)", g["gc_paused_wall_s"]["median"], "", None)
            )
    if d:
        rows.append(
            row(
                f"diagnosis stage, {d['services']} Services (s)",
                d["wall_s"]["median"],
                f"<= {t_diag:g}",
                d["wall_s"]["median"] <= t_diag,
                "{:.3f}",
            )
        )
        if "gc_frozen_wall_s" in d:
            rows.append(
                row(
                    "diagnosis stage, data gc.freeze()d (s)",
                    d["gc_frozen_wall_s"]["median"],
                    "",
                    None,
                    "{:.3f}",
                )
            )
        if "audit_run_plus_json_s" in d:
            rows.append(
                row(
                    "audit.run + to_json in-process (s)",
                    d["audit_run_plus_json_s"]["median"],
                    "",
                    None,
                    "{:.3f}",
                )
            )
    for key, label in (("svc_healthy", "svc healthy"), ("svc_broken", "svc selector typo")):
        s = res.get(key)
        if s:
            rows.append(
                row(
                    f"{label}, largest ns: wall (s)",
                    s["wall_s"]["median"],
                    f"<= {t_svc:g}",
                    s["wall_s"]["median"] <= t_svc,
                )
            )
            if s.get("cpu_s"):
                rows.append(row(f"{label}, largest ns: CPU (s)", s["cpu_s"]["median"], "", None))
            n = s["requests"]
            rows.append(row(f"{label}, largest ns: requests", n, "<= 8", n is not None and n <= 8, "{}"))
    p = res.get("peers") or {}
    for name, m in p.items():
        k = m.get("killed")
        if k and k["killed"] == "memory cap":
            what = f"killed at the {m['cap_mib'] / 1024:.1f} GiB memory cap after {k['wall_s']:.0f} s (run {k['run']})"
        elif k:
            what = f"killed: not done after {m['timeout_s']:.0f} s (run {k['run']})"
        inc = m.get("incomplete_runs") or []
        if inc:
            rows.append(
                row(
                    f"{name}: incomplete runs (not counted)",
                    f"{len(inc)}: {inc[0]['errors'][0][:60]}",
                    "",
                    None,
                )
            )
        if "wall_s" not in m:
            rows.append(
                row(f"{name}: -A scan", what if k else ("no complete run" if inc else "absent"), "", None)
            )
            continue
        if k:
            rows.append(row(f"{name}: -A scan", what, "", None))
        if any(m.get("exit_codes") or ()):
            rows.append(row(f"{name}: exit codes", " ".join(map(str, m["exit_codes"])), "", None))
        rows.append(row(f"{name}: wall (s)", m["wall_s"]["median"], "", None))
        rows.append(row(f"{name}: peak RSS (MB)", m["peak_rss_mb"]["median"], "", None, "{:.0f}"))
        if a:
            rows.append(
                row(
                    f"{name} wall / kubediag audit wall",
                    m["wall_s"]["median"] / a["wall_s"]["median"],
                    "",
                    None,
                    "{:.1f}x",
                )
            )
            rows.append(
                row(
                    f"{name} RSS / kubediag audit RSS",
                    m["peak_rss_mb"]["median"] / a["peak_rss_mb"]["median"],
                    "",
                    None,
                    "{:.1f}x",
                )
            )
    h = res.get("help")
    if h:
        rows.append(
            row(
                "kubediag --help: wall (s)",
                h["wall_s"]["median"],
                "< 0.3",
                h["wall_s"]["median"] < 0.3,
                "{:.3f}",
            )
        )
        rows.append(
            row(
                "--help imports kubernetes",
                "yes" if h["imports_kubernetes"] else "no",
                "no",
                not h["imports_kubernetes"],
            )
        )
    return rows


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    w = max(len(r["metric"]) for r in rows)
    vw = max(6, *(len(str(r["median"])) for r in rows))
    print(f"\n{title}\n")
    print(f"| {'metric':<{w}} | {'median':>{vw}} | {'target':<7} | result |")
    print(f"|{'-' * (w + 2)}|{'-' * (vw + 2)}|{'-' * 9}|--------|")
    for r in rows:
        res = "" if r["pass"] is None else ("pass" if r["pass"] else "FAIL")
        print(f"| {r['metric']:<{w}} | {r['median']!s:>{vw}} | {r['target']:<7} | {res:<6} |")
    sys.stdout.flush()


# ---- main -----------------------------------------------------------------------------------------------------
def environment(kube: Kube | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        env["git_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        env["git_dirty"] = bool(
            subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain", "kubediag"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        )
    except OSError:
        pass
    try:
        from kubediag import __version__

        env["kubediag"] = __version__
    except ImportError:
        pass
    if kube is not None:
        try:
            env["server"] = kube.cfg.server
            env["server_version"] = kube.json("GET", "/version").get("gitVersion")
        except Exception:
            pass
    return env


def compile_bytecode() -> str:
    """Byte-compile the kubediag package the runs import, as an installed copy is (pip compiles at install;
    deploy/Dockerfile runs compileall): with an editable install and PYTHONDONTWRITEBYTECODE=1 every run
    would compile each module from source again (about 0.15 s of CPU for `svc`), which no user pays."""
    import compileall

    import kubediag

    package = Path(kubediag.__file__).resolve().parent
    ok = compileall.compile_dir(str(package), quiet=1)
    return f"compiled ({package})" if ok else f"compileall failed ({package})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (default 5; 3 for large)")
    ap.add_argument("--help-runs", type=int, default=10)
    ap.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"comma-separated subset of {','.join(MEASUREMENTS)}"
    )
    ap.add_argument("--skip-seed", action="store_true", help="measure what is there; never seed")
    ap.add_argument(
        "--seed-only", action="store_true", help="seed (or check the seed) and stop; implies --keep"
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="leave the bench objects (a later run of the same size reuses them)",
    )
    ap.add_argument("--cleanup", action="store_true", help="only delete every bench namespace and node")
    ap.add_argument(
        "--cleanup-wait",
        type=float,
        default=900.0,
        help="seconds to wait for bench pods to go before deleting the nodes",
    )
    ap.add_argument("--method", choices=("api", "raw", "kubectl"), default="raw", help="seeding transport")
    ap.add_argument("--threads", type=int, default=16, help="seeding threads (kubectl: processes)")
    ap.add_argument(
        "--seed-timeout", type=float, default=None, help="seconds (default: 900; large 3600, xl 10800)"
    )
    ap.add_argument(
        "--timeout", type=float, default=None, help="kubediag --timeout (default 120; 600 for large)"
    )
    ap.add_argument(
        "--peer-mem-cap",
        type=float,
        default=None,
        help="GiB; a peer tool whose RSS passes it is killed and reported as such "
        "(default: 16, or the memory available less 4 GiB)",
    )
    ap.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds per peer run (default 1800)")
    ap.add_argument(
        "--snapshot", type=Path, help="re-time the diagnosis stage on this saved snapshot (no cluster)"
    )
    ap.add_argument(
        "--synthetic",
        action="store_true",
        help="no cluster: build the seeded objects (and the status the control plane adds) in-process "
        "from the plan; measures the diagnosis stage only (bench/synthetic.py)",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    size = SIZES[args.size]
    runs = args.runs or (3 if size.name in ("large", "xl") else 5)
    timeout = args.timeout or (600.0 if size.name in ("large", "xl") else 120.0)
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    if bad := only - set(MEASUREMENTS):
        ap.error(f"unknown measurement(s): {', '.join(sorted(bad))}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    res: dict[str, Any] = {"schema": 1, "generated_at": stamp, "size": size.as_dict(), "runs": runs}

    if args.snapshot:  # offline: the diagnosis stage only
        res["environment"] = environment(None)
        res["snapshot"] = str(args.snapshot)
        data = load_snapshot(args.snapshot)
        res["diagnosis"] = measure_diagnosis(data, runs)
        res["diagnosis"].pop("_audit_doc", None)
        rows = build_table(res)
        res["table"] = rows
        print_table(rows, f"kubediag bench: diagnosis stage on {args.snapshot}")
        write(res, args.out, stamp, f"{size.name}-snapshot")
        return 0

    if args.synthetic:  # offline: the plan built in-process, the diagnosis stage only
        return run_synthetic(res, size, runs, only, args.out, stamp)

    kube = Kube(KubeConfig.load())
    if args.cleanup:
        res["cleanup"] = cleanup(kube, args.cleanup_wait)
        print(json.dumps(res["cleanup"]))
        return 0 if res["cleanup"]["nodes_deleted"] or not res["cleanup"].get("pods_left") else 1
    res["environment"] = environment(kube)
    res["environment"]["bytecode"] = compile_bytecode()
    plan = make_plan(size)
    res["plan"] = {
        "objects": plan.counts(),
        "largest_namespace": plan.largest_namespace,
        "digest": plan.digest,
    }
    keep = args.keep or args.seed_only
    try:
        state = seeded_state(kube, plan)
        if args.skip_seed or state == "complete":
            log(f"seed: size {size.name} (plan {plan.digest}) is {state}; not seeding")
            res["seed"] = {"reused": True, "seconds": 0, "state": state}
        else:
            rep = seed(
                kube,
                plan,
                args.method,
                args.threads,
                args.seed_timeout or {"xl": 10800.0, "large": 3600.0}.get(size.name, 900.0),
            )
            res["seed"] = rep.as_dict()
        if args.seed_only:  # the seed's report alone, beside the measurements' latest-SIZE.json
            write(res, args.out, stamp, f"{size.name}-seed")
            return 0
        if "help" in only:
            res["help"] = measure_help(args.help_runs)
        audit_doc = None
        if "audit" in only or "floor" in only:
            res["audit"] = measure_audit(kube, runs, timeout, floor="floor" in only)
            if "floor" in res["audit"]:
                res["floor"] = res["audit"].pop("floor")
            audit_doc = res["audit"].pop("output")
            res["audit"]["summary"] = (audit_doc or {}).get("summary", {}).get("status")
            seen = [
                (r.get("service") or {}).get("namespace", "") for r in (audit_doc or {}).get("services") or []
            ]
            res["audit"]["services_seen"] = len(seen)
            res["audit"]["services_not_bench"] = sum(not ns.startswith("bench-") for ns in seen)
            res["found_per_kind"] = found_per_kind(plan, audit_doc)
            if not res["audit"]["debug_total_line"]:
                log("WARNING: audit --debug printed no final 'debug: N request(s) to <server>' line")
        if "diagnosis" in only:
            log("diagnosis: gathering the scope in-process (kubediag.gather.gather_scope)")
            data, res["gather_in_process"] = gather_in_process(min(runs, 3), timeout)
            snap = args.out / f"snapshot-{size.name}.json"
            save_snapshot(data, snap)
            res["snapshot"] = str(snap)
            log(f"  snapshot saved to {snap} ({snap.stat().st_size / 1e6:.0f} MB)")
            res["diagnosis"] = measure_diagnosis(data, runs)
            res["diagnosis"].pop("_audit_doc", None)
            del data
        if "svc" in only:
            ns = plan.largest_namespace
            healthy = plan.pick(ns, "healthy")
            res["svc_healthy"] = measure_svc(ns, healthy.name, runs, "healthy")
            typo = next((s for s in plan.services if s.namespace == ns and s.kind == "selector-typo"), None)
            if typo:
                res["svc_broken"] = measure_svc(ns, typo.name, runs, "selector typo")
        if "peers" in only:
            cap = args.peer_mem_cap * 1024 if args.peer_mem_cap else default_peer_cap_mib()
            res["peers"] = measure_peers(runs, args.peer_timeout, cap)
    except (Exception, KeyboardInterrupt) as exc:  # keep what was measured: table and JSON of the rest
        res["error"] = f"{type(exc).__name__}: {exc}"
        log(f"ERROR: {res['error']} (the figures measured so far are still written)")
    finally:
        if not keep and not args.skip_seed:
            try:
                res["cleanup"] = cleanup(kube, args.cleanup_wait)
            except Exception as exc:
                res["cleanup"] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"cleanup failed: {res['cleanup']['error']}; run `python bench/run.py --cleanup` later")
        elif keep:
            log("keeping the bench objects (--keep); remove them with: python bench/run.py --cleanup")
    rows = build_table(res)
    res["table"] = rows
    print_table(
        rows,
        f"kubediag bench, size {size.name} ({size.services} Services, {size.pods} pods, {size.namespaces} namespaces), median of {runs} runs",
    )
    if res.get("found_per_kind"):
        print_found(res["found_per_kind"])
    if res.get("audit"):
        r = res["audit"]["peak_rss_mib"]
        print(
            f"\nPeak RSS of `kubediag audit -A -o json` at size {size.name}: highest {r['max']:.0f} MiB, "
            f"median {r['median']:.0f} MiB over {len(r['runs'])} runs "
            "(deploy/base/cronjob.yaml's memory request and limit follow the xl figure)"
        )
    if res.get("error"):
        print(f"\nIncomplete run: {res['error']}")
    write(res, args.out, stamp, size.name)
    return 0 if not res.get("error") and all(r["pass"] is not False for r in rows) else 1


def print_found(found: dict[str, dict[str, int]]) -> None:
    print("\nWhat audit found, per seeded kind (status:root cause -> Services)")
    for kind, counts in found.items():
        print(
            f"  {kind:<22} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        )


def run_synthetic(res: dict[str, Any], size: Any, runs: int, only: set[str], out: Path, stamp: str) -> int:
    """`--synthetic`: the diagnosis stage on the plan's objects built in-process (bench/synthetic.py), and
    whether the audit found every seeded kind as the plan says (EXPECTED_FOUND)."""
    from synthetic import EXPECTED_FOUND, synthetic_data

    if only - {"diagnosis"}:
        log(
            f"--synthetic measures the diagnosis stage only; ignoring {', '.join(sorted(only - {'diagnosis'}))}"
        )
    res["environment"] = environment(None)
    plan = make_plan(size)
    res["plan"] = {
        "objects": plan.counts(),
        "largest_namespace": plan.largest_namespace,
        "digest": plan.digest,
    }
    log(f"synthetic: building size {size.name} in-process ({size.services} Services, {size.pods} pods)")
    start = time.perf_counter()
    data = synthetic_data(plan)
    res["synthetic"] = {
        "build_s": round(time.perf_counter() - start, 2),
        "objects": {k.value: len(v) for k, v in data.objects.items()},
    }
    log(f"  built in {res['synthetic']['build_s']:.1f}s: {res['synthetic']['objects']}")
    res["diagnosis"] = measure_diagnosis(data, runs)
    doc = res["diagnosis"].pop("_audit_doc", None)
    found = found_per_kind(plan, doc)
    res["found_per_kind"] = found
    wrong = {kind: counts for kind, counts in found.items() if set(counts) != {EXPECTED_FOUND[kind]}}
    planned = Counter(s.kind for s in plan.services)
    missing = {k: n for k, n in planned.items() if sum(found.get(k, {}).values()) != n}
    res["synthetic"]["found_as_planned"] = not wrong and not missing
    rows = build_table(res)
    rows.append(
        row(
            "audit found every seeded kind as planned",
            "yes" if res["synthetic"]["found_as_planned"] else "no",
            "yes",
            res["synthetic"]["found_as_planned"],
        )
    )
    res["table"] = rows
    print_table(
        rows,
        f"kubediag bench, size {size.name} SYNTHETIC (built in-process, no cluster: {size.services} Services, "
        f"{size.pods} pods, {size.namespaces} namespaces), median of {runs} runs",
    )
    d = res["diagnosis"]
    print(
        f"\nDiagnosis stage CPU time (median): {d['cpu_s']['median']:.3f} s. Per check, one run: CPU s (wall s)"
    )
    for check_id, secs in d["per_check_cpu_s"].items():
        print(f"  {check_id:<9} {secs:7.3f} ({d['per_check_s'].get(check_id, 0):.3f})")
    print_found(found)
    for kind, counts in wrong.items():
        print(f"  MISMATCH: {kind}: expected only {EXPECTED_FOUND[kind]}, found {counts}")
    for kind, n in missing.items():
        print(f"  MISMATCH: {kind}: {n} planned, {sum(found.get(kind, {}).values())} found")
    write(res, out, stamp, f"{size.name}-synthetic")
    return 0 if all(r["pass"] is not False for r in rows) else 1


def write(res: dict[str, Any], out: Path, stamp: str, tag: str) -> None:
    text = json.dumps(res, indent=2, default=str)
    (out / f"{stamp}-{tag}.json").write_text(text)
    (out / f"latest-{tag}.json").write_text(text)
    log(f"results: {out / f'{stamp}-{tag}.json'} and latest-{tag}.json")


if __name__ == "__main__":
    sys.exit(main())
