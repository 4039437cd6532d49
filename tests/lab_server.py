"""A throwaway JupyterLab server for real-browser tests.

``LabServer(root)`` starts ``python -m jupyterlab`` on a free loopback port with a random
token, isolated from the user's Jupyter configuration (its own config, runtime, settings
and workspace folders under ``root``), with JupyterLab's news and update checks off so no
toast covers the page. The kernel it starts imports this checkout's ``ipainter_nb``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """Start with ``start()`` (or ``with``), open ``url("lab/tree/x.ipynb")``, ``stop()``."""

    def __init__(self, root: Path, startup_timeout: float = 90.0) -> None:
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.notebooks = self.root / "notebooks"  # the server's root_dir
        self.log_path = self.root / "jupyterlab.log"

    # ------------------------------------------------------------------ urls

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str) -> str:
        """``path`` under the server, with the token (the page then keeps it in a cookie)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path.lstrip('/')}{sep}token={self.token}"

    # ------------------------------------------------------------------ lifecycle

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {name: self.root / name for name in ("config", "runtime", "settings",
                                                     "workspaces", "ipython")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            IPYTHONDIR=str(dirs["ipython"]),
            # The kernel runs in root_dir, not in the checkout: let it import ipainter_nb.
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        )
        # A user setting, not an edit of the installed JupyterLab: no news toast, no
        # update check (both would also reach for the network).
        notification = dirs["settings"] / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return env

    def start(self) -> LabServer:
        self.notebooks.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.notebooks}",
            "--allow-root",
            "--LabApp.news_url=None",  # no announcements feed
        ]
        with open(self.log_path, "wb") as log:
            # Own process group: stop() ends the server and the kernels it started, nothing else.
            self.proc = subprocess.Popen(cmd, cwd=self.notebooks, env=self._environment(),
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        status = f"{self.base_url}api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(status, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        pgid = proc.pid  # the group we created; its leader is the server
        try:
            os.killpg(pgid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(pgid, signal.SIGKILL)  # whatever of our group is left
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
