"""The audit's progress bar on stderr (only when stderr is a terminal)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kubediag.model import Kind


class Progress:
    """A progress bar on stderr while gathering and diagnosing, only when stderr is a terminal.

    Used as a context manager; `on_page(kind, n)` is called from the gatherer's threads, `on_service()`
    after each diagnosis. When stderr is not a TTY every method is a no-op and nothing is written.
    """

    def __init__(self, stream: Any, enabled: bool | None = None) -> None:
        self.enabled = bool(stream.isatty()) if enabled is None else enabled
        self._stream = stream
        self._bar: Any = None
        self._gather: Any = None
        self._diagnose: Any = None
        self._counts: Counter[str] = Counter()
        import threading

        self._lock = threading.Lock()

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            console = Console(file=self._stream, highlight=False, markup=False, emoji=False)
            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._bar.start()
            self._gather = self._bar.add_task("Listing the scope", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_page(self, kind: Kind, n: int) -> None:
        if self._bar is None:
            return
        with self._lock:
            self._counts[kind.value] += n
            text = " · ".join(f"{k} {v}" for k, v in sorted(self._counts.items()) if v)
        self._bar.update(self._gather, advance=n, description=f"Listing: {text}")

    def start_diagnosis(self, total: int) -> None:
        if self._bar is None:
            return
        self._bar.update(self._gather, total=self._bar.tasks[0].completed, visible=False)
        self._diagnose = self._bar.add_task("Diagnosing Services", total=total)

    def on_service(self) -> None:
        if self._bar is not None and self._diagnose is not None:
            self._bar.advance(self._diagnose)
