"""Structured logs (structlog), one line per request, on stdout: JSON for a log collector,
readable lines when a person watches a terminal (`OPIOID_CDS_LOG_FORMAT`, default `auto`).

Standard-library loggers (uvicorn, the FHIR client, the rule engine) go through the same
formatter, so every line an operator sees has one shape. Only protocol metadata is
logged: service id, hookInstance, status, duration, rule ids — never tokens, patient ids,
names, BSNs or request bodies. The service's own code (`app`, `rules`, `cds_hooks`) is written
to that rule; what libraries log is cut down by `LibraryLinesWithoutData`, at every level a
logger may be set to. An exception is logged as its type and frames (`cds_hooks.failures`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from cds_hooks.failures import failure_fields

__all__ = ["OWN_LOGGERS", "LibraryLinesWithoutData", "configure_logging", "get_logger"]

OWN_LOGGERS = frozenset({"app", "rules", "cds_hooks"})
"""Top-level names of the service's own loggers: the only ones whose lines pass unchanged."""

# A library's message is kept up to where a value would start: a repr, a quote, an `x=y`.
_VALUE_START = re.compile(r"[\n(<'\"=:%\[{]")

# uvicorn's own start and stop lines: their values are the process id, host and port, which an
# operator needs to see (the README tells them to wait for "Uvicorn running on").
_SERVER_LIFECYCLE = frozenset(
    {
        "Started server process [%d]",
        "Waiting for application startup.",
        "Application startup complete.",
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
        "Uvicorn running on %s://[%s]:%d (Press CTRL+C to quit)",
        "Shutting down",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        "Finished server process [%d]",
    }
)


class LibraryLinesWithoutData(logging.Filter):
    """Libraries log what they handle: httpx every FHIR URL (the patient id in its query),
    uvicorn's access log the query string, SQLAlchemy its statements' parameters, httpcore the
    response headers, asyncio the repr of a failed task's exception. So their lines below
    WARNING are dropped, and from WARNING on only the start of the message template is kept,
    up to the first value, never its arguments ("Invalid HTTP request received.", "Task
    exception was never retrieved"). Whatever level a logger is set to. uvicorn's start and
    stop lines pass whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.partition(".")[0] in OWN_LOGGERS:
            return True
        if record.name == "uvicorn.error" and record.msg in _SERVER_LIFECYCLE:
            return True
        if record.levelno < logging.WARNING:
            return False
        template = str(record.msg)
        cut = _VALUE_START.search(template)
        record.msg = (template[: cut.start()] if cut else template).strip() or "(withheld)"
        record.args = None
        return True


def _exception_without_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace a traceback by the exception's type and frames: the message and the locals of
    an arbitrary exception (a database error quoting its parameters, say) may carry request
    data."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, tuple):
            exc_info = exc_info[1]
        if isinstance(exc_info, BaseException):
            event_dict.update(failure_fields(exc_info))
    return event_dict


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(log_format: str) -> Any:
    console = log_format == "console" or (log_format == "auto" and sys.stdout.isatty())
    if console:
        return structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    return structlog.processors.JSONRenderer()


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _exception_without_data,
                _renderer(log_format),
            ],
            foreign_pre_chain=_SHARED_PROCESSORS,
        )
    )
    handler.addFilter(LibraryLinesWithoutData())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []  # propagate to the JSON handler instead
        logging.getLogger(name).propagate = True
    # The request middleware logs each request with more context than uvicorn's access line.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
