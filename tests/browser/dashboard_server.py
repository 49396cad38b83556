"""The dashboard under test: a ``ledgerlearn dashboard`` subprocess and a small JSON client for its API.

Shared by the browser tests' conftest and modules (a module of its own: every
test folder has a ``conftest``, so importing names from one is ambiguous).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ledgerlearn_exe() -> list[str]:
    exe = Path(sys.executable).with_name("ledgerlearn")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ledgerlearn.cli.main"]


class Server:
    """A ``ledgerlearn dashboard`` subprocess and a tiny JSON client for its API."""

    def __init__(self, workdir: Path, *extra: str):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.runs_dir = workdir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "server.log", "w+b")
        cmd = [*ledgerlearn_exe(), "--data-dir", str(self.data_dir), "dashboard", "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(cmd, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with {self.proc.returncode}:\n{self.output()}")
            try:
                self.get("/api/status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the dashboard did not answer /api/status in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def request(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str):
        status, data = self.request("GET", path)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {data}")
        return data

    def post(self, path: str, body: dict):
        status, data = self.request("POST", path, body)
        if status != 200:
            raise AssertionError(f"POST {path}: {status} {data}")
        return data

    def deploy(self, name: str, model: dict, **kw):
        body = {
            "name": name, "model": model, "incentive": "drt", "refund_wait": 86400, "owner_claim_wait": 8 * 86400,
            "any_claim_wait": 9 * 86400, "cost_weight": "1e13", "description": f"test model {name}", "account": "0", **kw,
        }
        return self.post("/api/models", body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
