"""The function host runs a built zip function as Lambda does: its interpreter, its package, boto3, nothing else."""

import json
from pathlib import Path

import pytest

from infra.build.packages import LAMBDA_PYTHON_VERSION, Builder, lambda_python
from infra.functions import FunctionSpec, PackagedRuntime
from infra.local.invoker import FunctionPool

HANDLERS = Path(__file__).parent.parent / "process" / "handlers"


@pytest.fixture(scope="module")
def runtime_dir() -> Path:
    return Builder(log=print).runtime_dir()


def packaged_pool(tmp_path: Path, runtime_dir: Path, handler: str) -> FunctionPool:
    spec = FunctionSpec(
        logical_id="SampleFunction",
        name="photomod-local-SampleFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:photomod-local-SampleFunction",
        handler=handler,
        code_paths=[str(HANDLERS)],
        environment={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=30,
        memory_mb=128,
        runtime=PackagedRuntime(
            python=str(lambda_python() or Builder(log=print).python), paths=[str(HANDLERS), str(runtime_dir)]
        ),
    )
    return FunctionPool(spec, 1, tmp_path)


def test_a_packaged_worker_sees_only_its_package_and_the_runtimes_boto3(tmp_path, runtime_dir):
    pool = packaged_pool(tmp_path, runtime_dir, "sample_handlers.environment_report")
    try:
        invocation = pool.invoke({"modules": ["boto3", "botocore", "pydantic", "moto", "pytest", "infra"]})
    finally:
        pool.close()

    assert invocation.ok, invocation.error
    importable = invocation.result["importable"]
    assert importable == {
        "boto3": True,
        "botocore": True,
        "pydantic": False,
        "moto": False,
        "pytest": False,
        "infra": False,
    }
    if lambda_python():
        assert invocation.result["python"] == [int(part) for part in LAMBDA_PYTHON_VERSION.split(".")]


def test_a_worker_records_the_urls_and_forms_it_presigns(tmp_path, runtime_dir):
    pool = packaged_pool(tmp_path, runtime_dir, "sample_handlers.presign")
    try:
        invocation = pool.invoke({"bucket": "images", "key": "uploads/abc.jpg"})
    finally:
        pool.close()

    assert invocation.ok, invocation.error
    records = [json.loads(line) for line in pool.call_log.read_text().splitlines()]
    target = {"Bucket": "images", "Key": "uploads/abc.jpg"}
    assert {"service": "s3", "operation": "GetObject", "params": target, "presigned": "url"} in records
    assert {"service": "s3", "operation": "PutObject", "params": target, "presigned": "post"} in records
    assert len(records) == 2  # botocore builds the POST from CreateBucket's model: not a call of its own
