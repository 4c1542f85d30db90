"""Run a scan over many files on all cores, and collect one report.

Files are grouped into small batches (so that thousands of tiny files do not cost one
inter-process round trip each) and handed to a process pool; workers send back only plain
findings (masked numbers), never card numbers. A :class:`Progress` sink, if given, hears
about every finished batch.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Protocol

from cardshield.discovery.context import ScanOptions
from cardshield.discovery.errors import DiscoveryError
from cardshield.discovery.findings import FileResult, ScanReport, ScanWarning
from cardshield.discovery.prefilter import default_prefilter
from cardshield.discovery.scanner import scan_file, scan_stdin
from cardshield.discovery.segments import SegmentResult, scan_segment
from cardshield.discovery.segments import merge as merge_segments
from cardshield.discovery.segments import plan as plan_segments
from cardshield.discovery.walker import FileTask, WalkStats, walk

_BATCH_BYTES = 8 << 20
_BATCH_FILES = 64


class Progress(Protocol):
    def start(self, total_bytes: int | None) -> None: ...
    def advance(self, results: Sequence[FileResult]) -> None: ...
    def stop(self) -> None: ...


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


Outcome = FileResult | SegmentResult


def _scan_batch(batch: Sequence[FileTask], options: ScanOptions) -> list[Outcome]:
    return [
        scan_segment(task.path, task.display, task.segment, options)
        if task.segment is not None
        else scan_file(task.path, task.display, options)
        for task in batch
    ]


def _split(tasks: Iterable[FileTask], jobs: int) -> Iterator[FileTask]:
    """Big plain-text files as segments, so that all cores share one big log."""
    for task in tasks:
        segments = plan_segments(task.path, task.size, jobs * 2) if jobs > 1 else None
        if not segments:
            yield task
            continue
        for segment in segments:
            yield replace(task, size=segment.end - segment.start, segment=segment)


def _batches(tasks: Iterable[FileTask]) -> Iterator[list[FileTask]]:
    batch: list[FileTask] = []
    size = 0
    for task in tasks:
        batch.append(task)
        size += task.size
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _run_pool(
    batches: Iterable[list[FileTask]],
    options: ScanOptions,
    jobs: int,
    on_results: Callable[[list[Outcome]], None],
    threads: bool,
) -> None:
    # fork starts workers in milliseconds with everything imported and the prefilter
    # compiled; with a progress bar (a thread) running, forkserver avoids forking threads.
    default_prefilter()
    context = multiprocessing.get_context("forkserver" if threads else "fork")
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            pending: set[Future[list[Outcome]]] = set()
            for batch in batches:
                pending.add(pool.submit(_scan_batch, batch, options))
                if len(pending) >= jobs * 3:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        on_results(future.result())
            for future in pending:
                on_results(future.result())
    except BrokenProcessPool as exc:  # a worker was killed (out of memory, a signal)
        raise DiscoveryError("a scan worker process died; try fewer --jobs") from exc


def run_scan(
    paths: Sequence[str],
    options: ScanOptions,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan files, directories and ``-`` (stdin); return the finished report."""
    started = time.perf_counter()
    report = ScanReport()
    walk_stats = WalkStats()

    def warn(path: str, message: str) -> None:
        report.warnings.append(ScanWarning(path, message))
        report.stats.warnings += 1

    parts: dict[str, list[SegmentResult]] = {}

    def on_results(outcomes: list[Outcome]) -> None:
        results: list[FileResult] = []
        for outcome in outcomes:
            if isinstance(outcome, FileResult):
                results.append(outcome)
                continue
            done = parts.setdefault(outcome.result.path, [])
            done.append(outcome)
            if len(done) == outcome.segment.count:
                results.append(merge_segments(parts.pop(outcome.result.path)))
        for result in results:
            report.add(result)
        if progress is not None and results:
            progress.advance(results)

    file_paths = [p for p in paths if p != "-"]
    tasks: Iterable[FileTask] = walk(
        file_paths, excludes=options.excludes, since=options.since, warn=warn, stats=walk_stats
    )
    if progress is not None:
        tasks = list(tasks)  # a known total makes a real progress bar
        progress.start(sum(t.size for t in tasks))
    try:
        if "-" in paths:
            on_results([scan_stdin(options)])
        jobs = jobs or default_jobs()
        batches = _batches(_split(tasks, jobs))
        first = list(itertools.islice(batches, 2))
        if jobs <= 1 or len(first) < 2:
            # One batch of work does not pay for starting worker processes.
            for batch in itertools.chain(first, batches):
                on_results(_scan_batch(batch, options))
        else:
            _run_pool(
                itertools.chain(first, batches), options, jobs, on_results, progress is not None
            )
    finally:
        if progress is not None:
            progress.stop()
    report.stats.skipped += walk_stats.skipped
    report.stats.seconds = time.perf_counter() - started
    report.finish()
    return report
