"""What a log line may say about a failure: its type and where it happened, never its data.

An exception's message, and the locals of its frames, can quote what was being handled (a
patient id in a KeyError, a BSN in a ValueError), so a failure is logged as its type plus,
for each frame of its traceback, file, line and function only:

    KeyError at rules/engine.py:259 run_rule > rules/checks/safety.py:88 check

Every `except` that logs a failure (rule checks, card rendering, prefetch, the service's
error handlers, the JSON log formatter) goes through this module.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback

__all__ = ["MAX_FRAMES", "describe_failure", "failure_fields", "failure_frames"]

MAX_FRAMES = 12
"""The innermost frames kept: where it failed, and enough of the way there."""


@functools.lru_cache(maxsize=512)
def _short_path(filename: str) -> str:
    """The file relative to the import path entry it was loaded from (`rules/engine.py`,
    `httpx/_client.py`): no home directories or virtualenv names in the log."""
    best = ""
    for entry in sys.path:
        root = os.path.abspath(entry or os.curdir) + os.sep
        if filename.startswith(root) and len(root) > len(best):
            best = root
    return filename[len(best) :] if best else os.path.basename(filename)


def failure_frames(error: BaseException) -> str:
    """`file:line function` of each frame of the traceback, outermost first, joined by ` > `
    (the last MAX_FRAMES)."""
    frames = traceback.extract_tb(error.__traceback__)[-MAX_FRAMES:]
    return " > ".join(
        f"{_short_path(frame.filename)}:{frame.lineno} {frame.name}" for frame in frames
    )


def failure_fields(error: BaseException) -> dict[str, str]:
    """`error_type` and `error_frames`, for a structured log line."""
    return {"error_type": type(error).__name__, "error_frames": failure_frames(error)}


def describe_failure(error: BaseException) -> str:
    """`Type at frames`, for a plain log message."""
    frames = failure_frames(error)
    return f"{type(error).__name__} at {frames}" if frames else type(error).__name__
