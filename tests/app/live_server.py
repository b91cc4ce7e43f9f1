"""The service on a free loopback port, in a thread, with a throw-away SQLite database.

Shared by the browser tests and the tests that run the curl examples of docs/integration.md.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from app.db import migrate
from app.main import create_app
from app.settings import Settings

__all__ = ["EXAMPLE_TRUST_FILE", "LiveService", "live_service", "serving"]

# A client in the trust file (the key of the CDS Hooks 2.0 specification's example), so that
# a development server verifies the tokens that are sent (a bad one is a 401).
EXAMPLE_TRUST_FILE: dict[str, Any] = {
    "clients": [
        {
            "iss": "https://fhir-ehr.example.com/",
            "jwks": {
                "keys": [
                    {
                        "kty": "EC",
                        "crv": "P-384",
                        "kid": "example-kid",
                        "use": "sig",
                        "alg": "ES384",
                        "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
                        "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
                    }
                ]
            },
        }
    ]
}


@dataclass(frozen=True)
class LiveService:
    base_url: str
    database_path: Path

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Rows from the service's database (read with the standard library, not the app)."""
        connection = sqlite3.connect(self.database_path, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            return list(connection.execute(sql, parameters))
        finally:
            connection.close()


@contextmanager
def live_service(directory: Path, **settings: Any) -> Iterator[LiveService]:
    database_path = directory / "service.sqlite3"
    database_url = f"sqlite+aiosqlite:///{database_path}"
    # In a thread of its own: the caller may already run an event loop (Playwright's sync API).
    migration = threading.Thread(target=migrate, args=(database_url,))
    migration.start()
    migration.join()
    options: dict[str, Any] = {
        "environment": "development",
        "trusted_clients": None,
        "log_level": "WARNING",
        **settings,
    }
    app = create_app(Settings(database_url=database_url, **options))
    with serving(app, log_level="warning") as base_url:
        yield LiveService(base_url, database_path)


@contextmanager
def serving(app: Any, log_level: str | None = None, **options: Any) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a thread; yields its base URL.

    Without `log_level`, uvicorn leaves logging as the app configured it, as it does in
    production (where uvicorn configures its loggers before it calls the app factory).
    `options` go to `uvicorn.Config`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = (
        uvicorn.Config(app, log_level=log_level, lifespan="on", **options)
        if log_level is not None
        else uvicorn.Config(app, log_config=None, lifespan="on", **options)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the service did not start on 127.0.0.1")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
