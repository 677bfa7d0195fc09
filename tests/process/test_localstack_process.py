"""infra.local.localstack.LocalStackProcess's lifecycle with real processes and ports: a stubborn process group is
killed, a busy port is refused before anything starts."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local.localstack import LocalStackProcess


def test_stopping_kills_a_process_group_that_ignores_term(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("infra.local.localstack.STOP_TIMEOUT_S", 1)
    stubborn = "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + (
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); print('up', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", stubborn], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "up"
    group = process.pid
    localstack = LocalStackProcess("127.0.0.1", 1, tmp_path, tmp_path / "log")
    localstack.process = process

    started = time.monotonic()
    localstack.stop()

    assert process.returncode is not None
    assert time.monotonic() - started < 10
    assert _group_members_after_reaping(group) == [], "processes of the group outlived stop()"


def _group_members_after_reaping(group: int) -> list[str]:
    """Live members of a process group; a killed orphan may show for a moment until init reaps it."""
    deadline = time.monotonic() + 5
    while True:
        listing = subprocess.run(["ps", "-e", "-o", "pgid=,stat="], capture_output=True, text=True).stdout  # noqa: S607
        alive = [line for line in listing.splitlines() if line.split()[0] == str(group) and "Z" not in line.split()[1]]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_starting_on_a_busy_port_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("infra.local.localstack.LOCALSTACK_PYTHON", Path(sys.executable))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(SystemExit, match="in use"):
            LocalStackProcess("127.0.0.1", port, tmp_path, tmp_path / "log").start()
