"""What every `opioid-cds` command shares: exit codes, the user's error, quiet logs."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

import structlog

__all__ = [
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_OK",
    "CliError",
    "err",
    "iso_date",
    "quiet_service_logs",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def err(message: str) -> None:
    print(f"opioid-cds: {message}", file=sys.stderr)


def quiet_service_logs() -> None:
    """Only errors from the service's own loggers: a command's output is its answer."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level="ERROR", force=True)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
    )


def iso_date(value: str) -> date:
    """An argparse type: a day as YYYY-MM-DD."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
