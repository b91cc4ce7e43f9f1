"""Reading a FHIR Bulk Data export: NDJSON files, one resource a line, grouped by type.

An export is grouped by resource type, the worklist needs it by patient. The first pass
(`partition_chunk`) streams a byte range of one file and appends each line to one of
`partitions` files on local disk, chosen by a stable hash of the patient it belongs to, so the
second pass can read one partition at a time: memory is bounded by a partition, not by the
export. Both passes run on every core, one task per chunk and per partition.

Nothing here logs or returns a resource's content: a bad line is reported by file and line
number, an unknown resource type by its name.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from cds_hooks.references import reference_key

__all__ = [
    "PATIENT_TYPES",
    "SHARED_TYPES",
    "Chunk",
    "ChunkResult",
    "ExportError",
    "export_files",
    "partition_chunk",
    "partition_path",
    "plan_chunks",
    "read_partition",
    "read_shared",
]

PATIENT_TYPES = frozenset(
    {
        "Patient",
        "MedicationRequest",
        "MedicationDispense",
        "MedicationStatement",
        "Encounter",
        "Condition",
        "Procedure",
        "Observation",
    }
)
"""Resources of one patient (`Patient` by its id, the others by `subject` or `patient`)."""
SHARED_TYPES = frozenset({"PractitionerRole", "Practitioner", "Organization", "Medication"})
"""Resources many patients refer to (the GP's role, a product): every worker reads them all."""

MAX_REPORTED_LINES = 20
"""Bad lines named per chunk; the rest are counted."""
_TYPE_NAME = re.compile(r"[A-Za-z]{1,64}")
_BOM = b"\xef\xbb\xbf"


class ExportError(Exception):
    """The export cannot be read at all (no directory, no NDJSON files): a clear message."""


@dataclass(frozen=True)
class Chunk:
    """A byte range of one file that starts at a line and ends after one."""

    index: int
    path: Path
    file_index: int
    start: int
    end: int


@dataclass
class ChunkResult:
    chunk: Chunk
    lines: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    """(line number within the chunk, why), the first `MAX_REPORTED_LINES`."""
    bad_line_count: int = 0
    unknown_types: Counter[str] = field(default_factory=Counter)
    without_patient: Counter[str] = field(default_factory=Counter)


def export_files(directory: Path) -> list[Path]:
    """The NDJSON files of an export, in name order (`MedicationRequest.000.ndjson` …)."""
    if not directory.exists():
        raise ExportError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise ExportError(f"{directory}: not a directory (expected a Bulk Data export)")
    files = sorted(p for p in directory.iterdir() if p.name.endswith(".ndjson") and p.is_file())
    if not files:
        raise ExportError(
            f"{directory}: no .ndjson files (a Bulk Data export has one or more per resource "
            "type, e.g. Patient.ndjson, MedicationRequest.000.ndjson)"
        )
    return files


def _next_line_start(handle: IO[bytes], offset: int, size: int) -> int:
    if offset >= size:
        return size
    handle.seek(offset - 1)
    handle.readline()  # the rest of the line that crosses the offset
    return handle.tell()


def plan_chunks(files: list[Path], chunk_bytes: int) -> list[Chunk]:
    """Each file cut into ranges of about `chunk_bytes`, on line boundaries."""
    chunks: list[Chunk] = []
    for file_index, path in enumerate(files):
        size = path.stat().st_size
        with path.open("rb") as handle:
            start = 0
            while start < size:
                end = _next_line_start(handle, start + chunk_bytes, size)
                chunks.append(Chunk(len(chunks), path, file_index, start, end))
                start = end
    return chunks


def _lines(chunk: Chunk) -> Iterator[bytes]:
    with chunk.path.open("rb") as handle:
        handle.seek(chunk.start)
        position = chunk.start
        while position < chunk.end:
            line = handle.readline()
            if not line:
                return
            position += len(line)
            yield line


def patient_key(resource: dict[str, Any], kind: str) -> str | None:
    """The id of the patient a resource belongs to, or None when it names none."""
    if kind == "Patient":
        ident = resource.get("id")
    else:
        holder = resource.get("subject") or resource.get("patient")
        ref = holder.get("reference") if isinstance(holder, dict) else None
        if not isinstance(ref, str):
            return None
        # Most references are plain `Patient/<id>`: no need for the general reading.
        key = ref if ref.startswith("Patient/") and ref.count("/") == 1 else reference_key(ref)
        if not key.startswith("Patient/"):
            return None
        ident = key[len("Patient/") :]
    if not isinstance(ident, str) or not ident or "\t" in ident or "\n" in ident:
        return None
    return ident


def partition_path(work_dir: Path, partition: int, chunk: int) -> Path:
    return work_dir / f"{partition:05d}.{chunk:05d}.part"


def _shared_path(work_dir: Path, chunk: int) -> Path:
    return work_dir / f"shared.{chunk:05d}.ndjson"


class _Outputs:
    """The partition files of one chunk, opened when first written."""

    def __init__(self, work_dir: Path, chunk: int) -> None:
        self.work_dir = work_dir
        self.chunk = chunk
        self.handles: dict[int, IO[bytes]] = {}

    def write(self, partition: int, data: bytes) -> None:
        handle = self.handles.get(partition)
        if handle is None:
            handle = partition_path(self.work_dir, partition, self.chunk).open("wb")
            self.handles[partition] = handle
        handle.write(data)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def partition_chunk(chunk: Chunk, partitions: int, work_dir: Path) -> ChunkResult:
    """First pass over one chunk: every line to its patient's partition file (prefixed with the
    patient id, so the second pass groups without parsing), shared resources to this chunk's
    shared file."""
    result = ChunkResult(chunk)
    outputs = _Outputs(work_dir, chunk.index)
    shared: IO[bytes] | None = None
    try:
        for number, raw in enumerate(_lines(chunk), start=1):
            result.lines = number
            line = raw.strip()
            if number == 1 and chunk.start == 0 and line.startswith(_BOM):
                line = line[len(_BOM) :].lstrip()
            if not line:
                continue
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                _bad(result, number, "not valid JSON")
                continue
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(kind, str):
                _bad(result, number, "not a FHIR resource (a JSON object with a resourceType)")
                continue
            if kind in SHARED_TYPES:
                if shared is None:
                    shared = _shared_path(work_dir, chunk.index).open("wb")
                shared.write(line + b"\n")
                result.resources[kind] += 1
            elif kind in PATIENT_TYPES:
                key = patient_key(resource, kind)
                if key is None:
                    result.without_patient[kind] += 1
                    continue
                encoded = key.encode()
                partition = zlib.crc32(encoded) % partitions
                outputs.write(partition, encoded + b"\t" + line + b"\n")
                result.resources[kind] += 1
            else:
                name = kind if _TYPE_NAME.fullmatch(kind) else "(unreadable type name)"
                result.unknown_types[name] += 1
    finally:
        outputs.close()
        if shared is not None:
            shared.close()
    return result


def _bad(result: ChunkResult, number: int, why: str) -> None:
    result.bad_line_count += 1
    if len(result.bad_lines) < MAX_REPORTED_LINES:
        result.bad_lines.append((number, why))


def read_partition(work_dir: Path, partition: int, chunks: int) -> dict[str, list[bytes]]:
    """Second pass: the lines of one partition by patient id, in the export's order (chunks
    are numbered in file and byte order, and each chunk's file keeps its lines' order)."""
    by_patient: dict[str, list[bytes]] = {}
    for chunk in range(chunks):
        path = partition_path(work_dir, partition, chunk)
        if not path.exists():
            continue
        with path.open("rb") as handle:
            for record in handle:
                key, line = record.rstrip(b"\n").split(b"\t", 1)
                by_patient.setdefault(key.decode(), []).append(line)
    return by_patient


def read_shared(work_dir: Path, chunks: int) -> dict[str, dict[str, Any]]:
    """The shared resources by `Type/id` (the last one wins, as a later version would)."""
    shared: dict[str, dict[str, Any]] = {}
    for chunk in range(chunks):
        path = _shared_path(work_dir, chunk)
        if not path.exists():
            continue
        with path.open("rb") as handle:
            for line in handle:
                resource = orjson.loads(line)
                ident = resource.get("id")
                if isinstance(ident, str):
                    shared[f"{resource['resourceType']}/{ident}"] = resource
    return shared
