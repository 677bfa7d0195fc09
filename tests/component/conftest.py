"""Component tier: handlers under moto with the template's resources (helpers in tests/component/mocked.py)."""

from collections.abc import Iterator

import pytest

from tests.component.mocked import MockedStack, mocked_stack


@pytest.fixture
def stack() -> Iterator[MockedStack]:
    """A fresh moto account with everything template.yaml declares, for one test."""
    with mocked_stack() as mocked:
        yield mocked
