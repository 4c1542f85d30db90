"""A Rich progress bar on stderr: files, bytes and findings so far."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cardshield.discovery.findings import FileResult


class RichProgress:
    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]scan[/bold]"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[files]} files"),
            TextColumn("[red]{task.fields[findings]} findings[/red]"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None
        self._files = 0
        self._findings = 0

    def start(self, total_bytes: int | None) -> None:
        self._progress.start()
        self._task = self._progress.add_task("scan", total=total_bytes, files=0, findings=0)

    def advance(self, results: Sequence[FileResult]) -> None:
        if self._task is None:
            return
        self._files += len(results)
        self._findings += sum(len(r.findings) for r in results)
        self._progress.update(
            self._task,
            advance=sum(r.bytes_read for r in results),
            files=self._files,
            findings=self._findings,
        )

    def stop(self) -> None:
        self._progress.stop()
