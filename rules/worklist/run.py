"""The worklist over a whole export: two passes on every core, bounded memory.

Pass 1 cuts the files into chunks and sorts every line into a partition file by patient
(`export.partition_chunk`); pass 2 reads one partition at a time, groups it by patient and
judges each patient (`patients.PatientJudge`). Worker processes are forked, so they share the
loaded rule set and catalogue instead of loading their own; the partition files live in a
private temporary directory on this machine and are deleted afterwards, also on an error.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import orjson

from cds_hooks.references import reference_key
from rules.engine import Evaluator
from rules.worklist.export import (
    Chunk,
    ChunkResult,
    export_files,
    partition_chunk,
    plan_chunks,
    read_partition,
    read_shared,
)
from rules.worklist.patients import SECTIONS, PatientJudge, WorklistRow
from rules.worklist.practice import practice_of

__all__ = ["Summary", "Worklist", "build_worklist", "default_workers"]

PARTITION_BYTES = 8 << 20
"""About this much NDJSON per partition: what one worker holds in memory at a time."""
MAX_PARTITIONS = 512
"""Each chunk writes up to this many files at once (open file limits are often 1024); beyond
512 × 8 MiB of export (some 1.5 million patients) partitions grow instead."""
MAX_REPORTED_LINES = 20

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class Summary:
    """What was read and what was skipped: counts, names of files and resource types only."""

    as_of: date
    practice: str | None
    workers: int
    files: int = 0
    lines: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    bad_lines: int = 0
    bad_line_locations: list[str] = field(default_factory=list)
    """`FILE:LINE: why`, the first `MAX_REPORTED_LINES`."""
    unknown_types: Counter[str] = field(default_factory=Counter)
    without_patient: Counter[str] = field(default_factory=Counter)
    patients: int = 0
    other_practice: int = 0
    not_evaluated: Counter[str] = field(default_factory=Counter)
    """Patients whose evaluation failed, by error type (the engine never should)."""
    sections: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class Worklist:
    rows: list[WorklistRow]
    summary: Summary


@dataclass
class _PartitionResult:
    rows: list[WorklistRow] = field(default_factory=list)
    patients: int = 0
    other_practice: int = 0
    not_evaluated: Counter[str] = field(default_factory=Counter)


@dataclass
class _Worker:
    """What a worker process needs, set once when it starts."""

    judge: PatientJudge
    work_dir: Path
    chunks: int
    partitions: int
    practice: str | None
    shared: dict[str, dict[str, Any]] | None = None


_state: _Worker | None = None


def _start_worker(state: _Worker | None) -> None:
    global _state
    _state = state


def _worker() -> _Worker:
    assert _state is not None, "worker not started"
    return _state


def _pass_one(chunk: Chunk) -> ChunkResult:
    state = _worker()
    return partition_chunk(chunk, state.partitions, state.work_dir)


def _with_medications(
    resources: list[dict[str, Any]], shared: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The patient's resources plus the Medication resources they refer to."""
    extra: dict[str, dict[str, Any]] = {}
    for resource in resources:
        node = resource.get("medicationReference")
        ref = node.get("reference") if isinstance(node, dict) else None
        if isinstance(ref, str) and (found := shared.get(reference_key(ref))) is not None:
            extra[reference_key(ref)] = found
    return resources + list(extra.values()) if extra else resources


def _pass_two(partition: int) -> _PartitionResult:
    state = _worker()
    if state.shared is None:
        state.shared = read_shared(state.work_dir, state.chunks)
    result = _PartitionResult()
    for patient_id, lines in read_partition(state.work_dir, partition, state.chunks).items():
        result.patients += 1
        try:
            resources = [orjson.loads(line) for line in lines]
            patient = next((r for r in resources if r["resourceType"] == "Patient"), None)
            practice = practice_of(patient, state.shared)
            if state.practice is not None and practice.practice != state.practice:
                result.other_practice += 1
                continue
            row = state.judge.judge(
                patient_id, _with_medications(resources, state.shared), practice
            )
        except Exception as exc:  # one patient's data must not stop the list
            result.not_evaluated[type(exc).__name__] += 1
            continue
        if row is not None:
            result.rows.append(row)
    return result


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _map(executor: Executor | None, task: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    if executor is None:
        return [task(item) for item in items]
    return list(executor.map(task, items))


def _record_chunks(summary: Summary, results: list[ChunkResult]) -> None:
    line_offset: dict[int, int] = {}
    for result in sorted(results, key=lambda r: r.chunk.index):
        chunk = result.chunk
        offset = line_offset.get(chunk.file_index, 0)
        line_offset[chunk.file_index] = offset + result.lines
        summary.lines += result.lines
        summary.resources.update(result.resources)
        summary.unknown_types.update(result.unknown_types)
        summary.without_patient.update(result.without_patient)
        summary.bad_lines += result.bad_line_count
        for number, why in result.bad_lines:
            if len(summary.bad_line_locations) < MAX_REPORTED_LINES:
                summary.bad_line_locations.append(f"{chunk.path.name}:{offset + number}: {why}")


def _sort_key(row: WorklistRow) -> tuple[int, str, str, str]:
    return (SECTIONS.index(row.section), row.practice or "", row.gp or "", row.patient)


def build_worklist(
    export_dir: Path,
    evaluator: Evaluator,
    *,
    as_of: date,
    practice: str | None = None,
    workers: int | None = None,
    work_dir: Path | None = None,
) -> Worklist:
    """The chronic-user worklist of a Bulk Data export. Raises `ExportError` when the export
    cannot be read at all; bad lines and unknown types are counted in the summary."""
    started = time.perf_counter()
    files = export_files(export_dir)
    workers = max(1, workers or default_workers())
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1  # workers inherit the loaded rule set; without fork, run in this process
    total = sum(path.stat().st_size for path in files)
    # Chunks are streamed, so their size costs no memory; four per worker balance the load,
    # and few chunks keep the partition files (chunks × partitions) few.
    chunk_bytes = max(1 << 20, total // (workers * 4) + 1)
    chunks = plan_chunks(files, chunk_bytes)
    partitions = min(MAX_PARTITIONS, max(workers * 4, math.ceil(total / PARTITION_BYTES)))
    summary = Summary(as_of=as_of, practice=practice, workers=workers, files=len(files))
    with tempfile.TemporaryDirectory(prefix="opioid-cds-worklist-", dir=work_dir) as tmp:
        state = _Worker(
            PatientJudge(evaluator, as_of), Path(tmp), len(chunks), partitions, practice
        )
        executor: ProcessPoolExecutor | None = None
        if workers > 1:
            executor = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(state,),
            )
        else:
            _start_worker(state)
        try:
            _record_chunks(summary, _map(executor, _pass_one, chunks))
            rows: list[WorklistRow] = []
            for result in _map(executor, _pass_two, range(partitions)):
                rows.extend(result.rows)
                summary.patients += result.patients
                summary.other_practice += result.other_practice
                summary.not_evaluated.update(result.not_evaluated)
        finally:
            if executor is not None:
                executor.shutdown(cancel_futures=True)
            _start_worker(None)
    rows.sort(key=_sort_key)
    summary.sections.update(row.section for row in rows)
    summary.seconds = time.perf_counter() - started
    return Worklist(rows, summary)
