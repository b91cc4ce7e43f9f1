"""Real servers on 127.0.0.1 for the prefetch tests.

- `NodeFhirServer`: the in-memory FHIR R4 server of tests/fhirserver (Medplum's
  MemoryRepository + FhirRouter: real searches, paging with `next` links), in a Node process.
- `MisbehavingFhirServer`: a threaded HTTP server whose first path segment picks a failure:
  `/status500/fhir`, `/garbage/fhir` (HTML), `/notfhir/fhir` (JSON that is not FHIR),
  `/never/fhir` (reads the request, never answers), `/drip/fhir` (a byte every 0.2 s),
  `/redirect/fhir` (302 elsewhere), `/offsite/fhir` (a Bundle whose `next` link points to
  another origin), `/brokenpage/fhir` (a Bundle with an entry that holds no resource and a
  `next` link without a URL), `/huge/fhir` (declares a 1 GB body), `/manymeds/fhir` and
  `/slowmeds/fhir` (a MedicationRequest search answers `MANY_MEDICATIONS` orders, each
  referring to its own `Medication/x<i>`; a Medication read answers after 0.1 s, or 1 s on
  `slowmeds`; the server counts the Medication reads in flight at once).
- `AppServer`: the service (`app.main.create_app`) under uvicorn in a thread.
Every server records what it was asked (path, Authorization header) so tests can check that
each key was fetched once, with the token, and never sent anywhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

FHIRSERVER_DIR = Path(__file__).resolve().parents[2] / "fhirserver"
SEED_FILE = Path(__file__).resolve().parent / "fhir_seed.json"
MISBEHAVIOURS = (
    "status500",
    "garbage",
    "notfhir",
    "never",
    "drip",
    "redirect",
    "offsite",
    "brokenpage",
    "huge",
    "manymeds",
    "slowmeds",
)
MANY_MEDICATIONS = 1000
MEDICATION_READ_SECONDS = {"manymeds": 0.1, "slowmeds": 1.0}


class NodeUnavailable(RuntimeError):
    """Node or the npm packages of tests/fhirserver cannot be had on this machine."""


@dataclass(frozen=True)
class SeenRequest:
    method: str
    url: str
    authorization: str | None


# --- the Node FHIR server -------------------------------------------------------------------


class NodeFhirServer:
    """`node tests/fhirserver/server.js` on a free port; `npm ci` first when needed."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/fhir"

    def start(self, timeout: float = 60.0) -> None:
        node = shutil.which("node")
        npm = shutil.which("npm")
        if node is None or npm is None:
            raise NodeUnavailable("node/npm not on PATH")
        if not (FHIRSERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=FHIRSERVER_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                raise NodeUnavailable(f"npm ci failed: {result.stderr[-2000:]}")
        env = {**os.environ, "PORT": "0", "BASE_PATH": "/fhir"}
        self.process = subprocess.Popen(
            [node, "server.js"],
            cwd=FHIRSERVER_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()
        lines: list[str] = []

        def read_stdout() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                lines.append(line)
                if line.startswith("LISTENING "):
                    self.port = int(line.split()[1])
                    ready.set()

        threading.Thread(target=read_stdout, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise NodeUnavailable(f"the FHIR server did not start: {''.join(lines)[-2000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.process = None

    def put(self, resources: Iterable[dict[str, Any]]) -> None:
        """Create or replace resources with their own ids (PUT Type/id)."""
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            for resource in resources:
                response = client.put(
                    f"/{resource['resourceType']}/{resource['id']}",
                    json=resource,
                    headers={"Content-Type": "application/fhir+json"},
                )
                response.raise_for_status()

    def seed_from_file(self, path: Path = SEED_FILE) -> list[dict[str, Any]]:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        resources: list[dict[str, Any]] = [entry["resource"] for entry in bundle["entry"]]
        self.put(resources)
        return resources

    def requests(self) -> list[SeenRequest]:
        log = httpx.get(f"{self.origin}/_requests", timeout=5).json()
        return [SeenRequest(item["method"], item["url"], item["authorization"]) for item in log]

    def reset_log(self) -> None:
        httpx.post(f"{self.origin}/_reset", timeout=5).raise_for_status()


# --- the misbehaving server -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _MisbehavingHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(SeenRequest("GET", self.path, self.headers.get("Authorization")))
        mode = self.path.lstrip("/").split("/", 1)[0]
        if mode == "status500":
            self._send(500, b'{"resourceType":"OperationOutcome","issue":[]}', "application/json")
        elif mode == "garbage":
            self._send(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        elif mode == "notfhir":
            self._send(200, b'{"entries": [1, 2, 3]}', "application/json")
        elif mode == "never":
            owner.stopping.wait()  # hold the connection open until the server stops
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if owner.stopping.wait(0.2):
                    return
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"{owner.other_origin}/fhir/Patient/pat-1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "offsite":
            bundle = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "p1"}}],
                "link": [{"relation": "next", "url": f"{owner.other_origin}/offsite/fhir/page2"}],
            }
            self._send(200, json.dumps(bundle).encode(), "application/fhir+json")
        elif mode == "brokenpage":
            bundle = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": {"resourceType": "MedicationRequest", "id": "p1"}},
                    {"fullUrl": "MedicationRequest/p2"},
                ],
                "link": [{"relation": "next"}],
            }
            self._send(200, json.dumps(bundle).encode(), "application/fhir+json")
        elif mode in MEDICATION_READ_SECONDS:
            self._many_medications(mode)
        elif mode == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(1024**3))
            self.end_headers()
            self.wfile.write(b'{"resourceType":"Bundle"')
        else:
            self._send(404, b'{"resourceType":"OperationOutcome"}', "application/json")

    def _many_medications(self, mode: str) -> None:
        owner = self.server.owner
        resource_path = self.path.split("?", 1)[0].split("/fhir/", 1)[-1]
        if resource_path.startswith("Medication/"):
            owner.medication_read_started(mode)
            try:
                if owner.stopping.wait(MEDICATION_READ_SECONDS[mode]):
                    return
                medication = {"resourceType": "Medication", "id": resource_path.split("/")[1]}
                self._send(200, json.dumps(medication).encode(), "application/fhir+json")
            finally:
                owner.medication_read_ended(mode)
            return
        entries = []
        if resource_path == "MedicationRequest":
            entries = [
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": f"o{number}",
                        "status": "completed",
                        "intent": "order",
                        "subject": {"reference": "Patient/pat-1"},
                        "medicationReference": {"reference": f"Medication/x{number}"},
                    }
                }
                for number in range(MANY_MEDICATIONS)
            ]
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        self._send(200, json.dumps(bundle).encode(), "application/fhir+json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _MisbehavingHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops parallel connects (SYN retried after 1 s)
    owner: MisbehavingFhirServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a misbehaving answer is expected; anything else is shown."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class MisbehavingFhirServer:
    """A FHIR server that fails in the way the first path segment names."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._reads_in_flight: dict[str, int] = {}  # per mode: a mode's stragglers stay its own
        self._max_reads_in_flight: dict[str, int] = {}
        self._server = _MisbehavingHttpServer(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        # Same machine, other origin (host name differs): a token must never go there.
        self.other_origin = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def base_url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/fhir"

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self._seen.append(request)

    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def reset_log(self) -> None:
        with self._lock:
            self._seen.clear()
            self._max_reads_in_flight = dict(self._reads_in_flight)

    def max_medication_reads_in_flight(self, mode: str) -> int:
        """The most Medication reads on `mode` in flight at once since the last reset."""
        with self._lock:
            return self._max_reads_in_flight.get(mode, 0)

    def medication_read_started(self, mode: str) -> None:
        with self._lock:
            now = self._reads_in_flight.get(mode, 0) + 1
            self._reads_in_flight[mode] = now
            self._max_reads_in_flight[mode] = max(self._max_reads_in_flight.get(mode, 0), now)

    def medication_read_ended(self, mode: str) -> None:
        with self._lock:
            self._reads_in_flight[mode] -= 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- the service under uvicorn ---------------------------------------------------------------


class AppServer:
    """Serve an ASGI app with uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.port = port
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the service did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
