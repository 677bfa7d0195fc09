"""Holding tests to one process and no network: what the unit tier's conftest applies to every unit test."""

import _posixsubprocess
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

# Every way the standard library starts a process: subprocess (and all built on it), multiprocessing (which calls
# _posixsubprocess directly) and os's own.
OS_PROCESS_STARTERS = ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "spawnv", "spawnve")


class ProcessStarted(AssertionError):
    """A test held to this process tried to start another."""


def _refuse(what: str) -> Callable[..., None]:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise ProcessStarted(f"a unit test may not {what}: move the test to tests/process or tests/tooling")

    return refused


@contextmanager
def in_this_process_only() -> Iterator[None]:
    """No process starts and no network socket opens inside (Unix sockets, which reach no network, may)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", _refuse("start a process"))
        patch.setattr(_posixsubprocess, "fork_exec", _refuse("start a process"))
        for name in OS_PROCESS_STARTERS:
            if hasattr(os, name):
                patch.setattr(os, name, _refuse(f"call os.{name}"))
        disable_socket(allow_unix_socket=True)
        try:
            yield
        finally:
            enable_socket()
