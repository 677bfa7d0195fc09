"""Unit tier: plain Python in this one process. While a unit test (or a fixture it uses) runs, starting a process
or opening a network socket fails; such tests belong in tests/process (they start processes) or tests/tooling
(they run linters and command-line tools)."""

from collections.abc import Iterator

import pytest

from tests.support.isolation import in_this_process_only


# Around every phase, so that fixtures of any scope (set up in a test's setup) are held to the rule too.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with in_this_process_only():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with in_this_process_only():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with in_this_process_only():
        return (yield)
