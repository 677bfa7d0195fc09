"""The unit tier's rule (tests/unit/conftest.py): no process starts and no network socket opens here."""

import multiprocessing
import os
import socket
import subprocess
import sys

import pytest
from pytest_socket import SocketBlockedError

from tests.support.isolation import ProcessStarted


@pytest.fixture(scope="module")
def module_fixture_that_starts_a_process() -> str:
    return subprocess.run([sys.executable, "-c", "print('started')"], capture_output=True, text=True).stdout


def test_subprocess_is_refused():
    with pytest.raises(ProcessStarted, match="tests/process"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_os_level_process_starters_are_refused():
    with pytest.raises(ProcessStarted):
        os.system("true")  # noqa: S605, S607
    with pytest.raises(ProcessStarted):
        os.posix_spawn("/bin/true", ["true"], {})


def test_multiprocessing_is_refused():
    process = multiprocessing.get_context("spawn").Process(target=print)
    with pytest.raises(ProcessStarted):
        process.start()


def test_a_fixture_of_a_wider_scope_is_held_to_the_rule_too(request):
    with pytest.raises(ProcessStarted):
        request.getfixturevalue("module_fixture_that_starts_a_process")


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_network_sockets_are_refused():
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM)


def test_unix_sockets_reach_no_network_and_are_allowed():
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"ping")
        assert right.recv(4) == b"ping"
