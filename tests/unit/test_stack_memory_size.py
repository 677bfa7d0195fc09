"""`python -m infra.local.stack up --memory-size FUNCTION=MB`: a function's MemorySize for a test, in place of the
template's: both what the host enforces and what the function reads (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)."""

import pytest

from infra.functions import function_specs
from infra.local.stack import _override_memory_size
from infra.template import LocalNames, ResolvedTemplate, load_template


@pytest.fixture
def specs():
    template = ResolvedTemplate(load_template(), LocalNames(endpoint_url="http://127.0.0.1:1"))
    return function_specs(template, {})


def test_the_memory_size_of_one_function_is_replaced_where_the_host_and_the_function_read_it(specs):
    assert specs["ClassifyFunction"].memory_mb == 2048  # the template's

    _override_memory_size(specs, "ClassifyFunction", "576")

    assert specs["ClassifyFunction"].memory_mb == 576
    assert specs["ClassifyFunction"].environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "576"
    assert specs["UploadFunction"].memory_mb == 256


@pytest.mark.parametrize(
    ("function", "value"), [("NoSuchFunction", "576"), ("ClassifyFunction", "64"), ("ClassifyFunction", "lots")]
)
def test_an_unknown_function_or_a_size_lambda_does_not_offer_is_refused(specs, function, value):
    with pytest.raises(SystemExit, match="--memory-size"):
        _override_memory_size(specs, function, value)
