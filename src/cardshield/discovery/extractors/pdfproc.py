"""PDF text extraction in a helper process that the scanner can stop.

pypdf has no notion of time, and one page can take minutes: a 1.5 KB file whose page draws
a form XObject a few hundred times, each draw full of tiny text operators, costs pypdf about
0.4 s of CPU per draw (its own limits allow 5,000 draws). A time limit checked between pages
never sees that page end. So the pages are read in a helper process: the scanner waits for
each page only until the file's deadline; past it, the helper is killed and the file gets
the time-limit warning (the next PDF starts a new helper).

One helper serves every PDF of a scanning process, started on first use: a fork per PDF
would cost more than reading most PDFs does. It is forked (copy of the imported modules,
milliseconds) unless other threads run, which a fork does not carry over safely; then it
comes from the forkserver. A CPU-time limit set before each document stops a helper whose
scanner died meanwhile. Where no child process can be started (a daemon process), pages
are read in process, as before, with the limit checked between pages.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext
from multiprocessing.process import BaseProcess

# What the helper sends, per document: ("page", n, text) or ("warn", n, reason) per page,
# then ("done", 0, "") or ("error", 0, message).
Message = tuple[str, int, str]
Source = str | bytes  # a file system path, or the document itself

_CPU_MARGIN_S = 5  # the CPU-time backstop, past the wall-clock limit the scanner enforces


def page_texts(source: Source) -> Iterator[Message]:
    """Read a PDF's pages (in the helper, or in process where no helper can run)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(source if isinstance(source, str) else io.BytesIO(source))
        if reader.is_encrypted and not reader.decrypt(""):
            yield ("error", 0, "not scanned: encrypted PDF")
            return
        pages = list(reader.pages)
    except Exception as exc:  # pypdf raises many types on damaged files
        yield ("error", 0, f"corrupt PDF ({type(exc).__name__})")
        return
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:
            yield ("warn", number, f"text not extractable ({type(exc).__name__})")
            continue
        yield ("page", number, text)
    yield ("done", 0, "")


def _limit_cpu(seconds: float) -> None:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + _CPU_MARGIN_S
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _serve(conn: Connection) -> None:
    """The helper's loop: one ``(source, seconds)`` request in, its messages out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scanner's to handle
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    while True:
        try:
            source, seconds = conn.recv()
        except (EOFError, OSError):
            return  # the scanner is gone
        _limit_cpu(seconds)
        try:
            for message in page_texts(source):
                conn.send(message)
        except (BrokenPipeError, OSError):
            return


class _Helper:
    def __init__(self) -> None:
        context: ForkContext | ForkServerContext = (
            multiprocessing.get_context("fork")
            if threading.active_count() == 1
            else multiprocessing.get_context("forkserver")
        )
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child,), name="cardshield-pdf", daemon=True
        )
        self.process.start()
        child.close()
        self.owner = os.getpid()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


_helper: _Helper | None = None


def _get_helper() -> _Helper | None:
    """This process's helper, started if need be; None where none can start."""
    global _helper
    if _helper is not None and (_helper.owner != os.getpid() or not _helper.process.is_alive()):
        _helper = None  # a forked copy of our parent's, or one that died: not ours to use
    if _helper is None:
        try:
            _helper = _Helper()
        except (AssertionError, OSError):  # daemonic processes may not have children
            return None
    return _helper


def _drop_helper() -> None:
    global _helper
    if _helper is not None:
        _helper.stop()
        _helper = None


class TimeUp(Exception):
    """The deadline passed while the helper was still reading."""


class ReaderDied(Exception):
    """The helper ended without finishing the document (killed, crashed, CPU backstop)."""


def read_pages(source: Source, seconds_left: Callable[[], float]) -> Generator[Message, None, None]:
    """The document's messages, read by the helper; raises :class:`TimeUp` when
    ``seconds_left()`` runs out before the next message, :class:`ReaderDied` if the helper
    ends. A caller that stops early (closes the generator) has the busy helper killed."""
    helper = _get_helper()
    if helper is None:
        yield from page_texts(source)
        return
    finished = False
    try:
        helper.conn.send((source, seconds_left()))
        while not finished:
            if not helper.conn.poll(max(0.0, seconds_left())):
                raise TimeUp
            try:
                message: Message = helper.conn.recv()
            except (EOFError, OSError) as exc:
                raise ReaderDied from exc
            finished = message[0] in ("done", "error")
            yield message
    finally:
        if not finished:  # the helper is still busy with this document
            _drop_helper()
