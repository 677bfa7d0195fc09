"""Unit tier: plain Python in this one process. While a unit test (or a fixture it uses) runs, starting a process
or opening a network socket fails; such tests belong in tests/process (they start processes) or tests/tooling
(they run linters and command-line tools)."""

import platform
from collections.abc import Iterator

import pytest

from classify.labels import ClassIndex
from classify.policy import ModerationPolicy
from tests.support.isolation import in_this_process_only

# The standard library's platform module runs `uname -p` once per process, the first time anything asks (h5py does
# when TensorFlow is imported); asked here, before any test, the answer is cached and no test starts that process.
platform.processor()


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


@pytest.fixture(scope="module")
def class_index() -> ClassIndex:
    """The ImageNet class index the classifier ships."""
    return ClassIndex.from_file()


@pytest.fixture(scope="module")
def policy(class_index: ClassIndex) -> ModerationPolicy:
    """The moderation policy the classifier ships."""
    return ModerationPolicy.from_file(class_index=class_index)
