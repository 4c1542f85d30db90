"""Logging that cannot carry card data.

:func:`configure_logging` is called once by every cardshield process (CLI, server, workers).
It installs three layers, each sufficient on its own, so that no code path (ours or a
library's) can write a PAN, a CVV or track data to a log:

1. a stdlib ``LogRecord`` factory that redacts the message, its arguments, extra fields and
   exception text as each record is created, whatever logger or handler it goes to;
2. :class:`RedactingFilter` on the root handler (for records built by hand);
3. :func:`redact_event`, a structlog processor that scrubs every value of an event dict
   (:func:`cardshield.redaction.scrub.scrub`), after exceptions have been rendered to text.

Uncaught exceptions go through a redacting ``sys.excepthook`` as well.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import structlog

from cardshield.redaction.scrub import scrub, scrub_field
from cardshield.redaction.text import redact

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a LogRecord in place: message with its args, extras, exception and stack text."""
    if getattr(record, "_cardshield_redacted", False):
        return record
    if isinstance(record.msg, dict) and not record.args:
        # A structlog event on its way to ProcessorFormatter: keep it a dict.
        record.msg = scrub(record.msg)
    else:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the values from redaction
            message = f"{record.msg!s} {record.args!r}"
        redacted = redact(message)
        if redacted != message or not isinstance(record.msg, str):
            # Card data (or an odd message object): keep only the redacted text.
            record.msg = redacted
            record.args = None
        # Otherwise msg and args stay as they were, for formatters that read the args
        # (uvicorn's access log does).
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redact(text.rstrip("\n"))
        record.exc_info = None  # formatters would render the raw traceback again
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            record.__dict__[key] = scrub_field(key, value)
    record._cardshield_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """A stdlib filter that redacts every record it sees (and never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_event(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub every value of the event dict, each beside its key."""
    for key in list(event_dict):
        event_dict[key] = scrub_field(key, event_dict[key])
    return event_dict


_RecordFactory = Callable[..., logging.LogRecord]


def _install_record_factory() -> None:
    current: _RecordFactory = logging.getLogRecordFactory()
    if getattr(current, "_cardshield", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    factory._cardshield = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redacting_excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(redact(text))


def _record_exception(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """For stdlib records: carry the (already redacted) exception text into the event."""
    record = event_dict.get("_record")
    if record is not None and record.exc_text and "exception" not in event_dict:
        event_dict["exception"] = record.exc_text
    return event_dict


def _redact_rendered(logger: Any, method_name: str, rendered: Any) -> Any:
    return redact(rendered) if isinstance(rendered, str) else rendered


# Libraries whose INFO chatter (migrations context, connection pools) is noise in our logs.
_QUIET = ("alembic", "sqlalchemy", "httpx", "httpcore", "botocore", "urllib3")


# The handler configure_logging installed, while its lines are JSON: write_fields() writes there.
_json_handler: logging.StreamHandler[TextIO] | None = None


def write_fields(logger: str, event: str, fields: Mapping[str, str | int | float | None]) -> None:
    """Log one INFO line of fixed, structured fields; the same line shape as every other.

    For per-request lines (the access log), where the stdlib and structlog pipeline with its
    three redaction passes costs more than the request itself. Safe without those passes only
    because the caller's keys are its own and every string value has passed :func:`redact`
    already; anything else belongs in an ordinary log call. Without JSON logging set up (tests,
    the console format) it is an ordinary call, through every layer.
    """
    handler = _json_handler
    target = logging.getLogger(logger)
    if not target.isEnabledFor(logging.INFO):
        return
    if handler is None:
        target.info("%s %s", event, " ".join(f"{k}={v}" for k, v in fields.items()))
        return
    line = json.dumps(
        {
            "event": event,
            **fields,
            "level": "info",
            "logger": logger,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )
    handler.acquire()  # the handler's own lock, as its emit() takes it
    try:
        handler.stream.write(line + "\n")
        handler.flush()
    finally:
        handler.release()


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure stdlib logging and structlog for this process, with redaction everywhere.

    ``fmt`` is ``json`` (one object per line, for log shipping) or ``console``. Records from
    stdlib loggers (ours and libraries') and structlog events go through the same handler
    and renderer, so every line has the same shape.
    """
    _install_record_factory()
    sys.excepthook = _redacting_excepthook

    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_event,
                renderer,
                _redact_rendered,  # a CVV is only recognisable next to its key, once rendered
            ],
            foreign_pre_chain=[*shared, _record_exception],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    global _json_handler
    _json_handler = handler if fmt == "json" else None
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_event,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; use it with key/value pairs: ``log.info("tokenized", token=...)``."""
    return structlog.stdlib.get_logger(name)
