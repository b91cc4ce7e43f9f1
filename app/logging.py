"""Structured logs (structlog), one line per request, on stdout: JSON for a log collector,
readable lines when a person watches a terminal (`OPIOID_CDS_LOG_FORMAT`, default `auto`).

Standard-library loggers (uvicorn, the FHIR client, the rule engine) go through the same
formatter, so every line an operator sees has one shape. Only protocol metadata is
logged: service id, hookInstance, status, duration, rule ids — never tokens, patient ids,
names, BSNs or request bodies.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger"]


def _exception_type_only(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace a traceback by the exception's type: messages and frames of an arbitrary
    exception (a database error quoting its parameters, say) may carry request data."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            event_dict["error_type"] = type(exc_info).__name__
        elif isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["error_type"] = exc_info[0].__name__
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
                _exception_type_only,
                _renderer(log_format),
            ],
            foreign_pre_chain=_SHARED_PROCESSORS,
        )
    )
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
