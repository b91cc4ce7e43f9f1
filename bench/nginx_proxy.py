"""The deployment's own reverse proxy, deploy/nginx.conf, run on loopback in front of local
replicas (bench/failover.py `--proxy nginx`).

The shipped file is used as it is but for what only Docker provides: its upstream names the
compose service `cds` (one DNS name, every replica behind it, re-resolved with `resolve`, which
nginx before 1.27.3 does not know), so here it names each replica's port instead, with the
same parameters. It listens on a free loopback port, keeps its pid file in the run's folder and
adds an `X-Upstream` header naming the replica that answered, so the benchmark can count.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from bench.servers import ROOT

__all__ = ["NGINX", "loopback_config", "start_nginx"]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx.conf"

_UPSTREAM_SERVER = re.compile(r"^(\s*)server cds:8000 resolve (?P<params>[^;]*);$", re.MULTILINE)
_LISTEN = re.compile(r"^(\s*)listen 8080;$", re.MULTILINE)
_PID = re.compile(r"^pid /tmp/nginx\.pid;$", re.MULTILINE)
_LOCATION = re.compile(r"^(\s*)location / \{$", re.MULTILINE)


def _replace_once(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    changed, count = pattern.subn(replacement, text)
    if count != 1:  # the shipped file changed shape: this stand-in must follow it
        raise ValueError(f"deploy/nginx.conf: expected one line matching {pattern.pattern!r}")
    return changed


def loopback_config(shipped: str, backends: list[str], port: int, folder: Path) -> str:
    """deploy/nginx.conf for `backends` (`127.0.0.1:PORT`) on 127.0.0.1:`port`."""
    match = _UPSTREAM_SERVER.search(shipped)
    if match is None:
        raise ValueError("deploy/nginx.conf: no `server cds:8000 resolve ...;` upstream line")
    indent, params = match.group(1), match.group("params")
    servers = "\n".join(f"{indent}server {backend} {params};" for backend in backends)
    config = _replace_once(_UPSTREAM_SERVER, servers, shipped)
    config = _replace_once(_LISTEN, rf"\1listen 127.0.0.1:{port};", config)
    config = _replace_once(_PID, f"pid {folder / 'nginx.pid'};", config)
    return _replace_once(
        _LOCATION, r"\1location / {\n\1    add_header X-Upstream $upstream_addr always;", config
    )


def start_nginx(backends: list[str], port: int, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground with the loopback config; its access log (stdout) to `log`.
    Stop it with `terminate()` (SIGTERM): a SIGKILL leaves its workers behind."""
    config = folder / "nginx.conf"
    config.write_text(loopback_config(SHIPPED.read_text(), backends, port, folder))
    error_log = folder / "nginx-error.log"
    return subprocess.Popen(
        [NGINX, "-c", str(config), "-p", str(folder), "-e", str(error_log), "-g", "daemon off;"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
