"""`make demo`: seed a handful of broken Services on the local cluster and print real kubediag reports
(the short form, as `kubediag svc` prints by default)."""

from __future__ import annotations

import subprocess
import sys

from scenarios import diagnose, load_all, seed, settle


def main() -> int:
    demos = [sc for sc in load_all() if sc.demo]
    print(f"Seeding {len(demos)} demo scenarios on the local cluster...", file=sys.stderr)
    for sc in demos:
        seed(sc)
    for sc in demos:
        settle(sc)
    for sc in demos:
        print(
            f"\n$ kubediag svc {sc.service} -n {sc.namespace}"
            + (f" --from {sc.client}" if sc.client else "")
            + "".join(f" {a}" for a in sc.args)
        )
        print(f"# scenario {sc.name}: {sc.description}")
        proc = diagnose(sc, output="text")
        sys.stdout.write(proc.stdout)
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        print(f"(exit code {proc.returncode})")
    print(
        "\nEach report is the short form: add -v for the full checklist, -o json for everything."
        "\nThe demo namespaces stay for you to explore: kubectl get ns | grep kd-",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (subprocess.SubprocessError, RuntimeError, TimeoutError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        sys.exit(1)
