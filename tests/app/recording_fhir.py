"""A small FHIR server on a free loopback port that records every request it gets.

It answers a read `.../Patient/<id>` with the patient it was given, and every search with a
searchset Bundle of the resources of that type; anything else is a 404. Tests use it to see
which paths the service asked for and whether a bearer token came along.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["RecordingFhirServer", "recording_fhir_server"]


@dataclass(frozen=True)
class Seen:
    path: str
    authorization: str | None


@dataclass
class RecordingFhirServer:
    port: int
    resources: list[dict[str, Any]]
    seen: list[Seen] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str) -> dict[str, Any] | None:
        resource_path, is_search, _ = path.partition("?")
        segments = resource_path.rstrip("/").split("/")
        if is_search:
            entries = [{"resource": r} for r in self.resources if r["resourceType"] == segments[-1]]
            return {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        kind, identity = segments[-2:]
        for resource in self.resources:
            if resource["resourceType"] == kind and resource.get("id") == identity:
                return resource
        return None


@contextmanager
def recording_fhir_server(resources: list[dict[str, Any]]) -> Iterator[RecordingFhirServer]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            owner.seen.append(Seen(self.path, self.headers.get("Authorization")))
            found = owner.answer(self.path)
            body = json.dumps(found or {"resourceType": "OperationOutcome"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    owner = RecordingFhirServer(server.server_address[1], resources)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
