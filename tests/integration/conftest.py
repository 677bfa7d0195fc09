"""The stack under test, found from its outputs, so the same tests run against every target:

- the local stack on moto (default): started once per session on free ports;
- the local stack on LocalStack: `PHOTOMOD_TEST_BACKEND=localstack` (`make test-localstack`);
- a deployed stack: `PHOTOMOD_TEST_STACK=<CloudFormation stack name>` (`make test-integration STACK=<name>`),
  with the caller's AWS credentials and region.

Every test finds the API, bucket, queues and tables from the stack's outputs (the local stack writes
<run-dir>/outputs.json in the shape of describe-stacks Outputs) and judges only what a client can observe.
A test that needs a capability only the local stack has is marked `local_only("why")` and skipped elsewhere.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.paths import REPO_ROOT
from infra.template import LocalNames, ResolvedTemplate, load_template
from tests.support.ports import free_port

BACKENDS = ("moto", "localstack")
BACKEND = os.environ.get("PHOTOMOD_TEST_BACKEND", "moto")
DEPLOYED_STACK = os.environ.get("PHOTOMOD_TEST_STACK", "")
READY_TIMEOUT_S = 240


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_only(reason): needs a capability only the local stack has; skipped on a deployed stack"
    )
    config.addinivalue_line(
        "markers", "presigned_policy_enforced: needs S3 to enforce presigned POST policies (not moto server)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        local_only = item.get_closest_marker("local_only")
        if DEPLOYED_STACK and local_only:
            reason = local_only.args[0] if local_only.args else "needs the local stack"
            item.add_marker(pytest.mark.skip(reason=f"local stack only: {reason}"))
        if not DEPLOYED_STACK and BACKEND == "moto" and item.get_closest_marker("presigned_policy_enforced"):
            item.add_marker(
                pytest.mark.skip(reason="moto server does not enforce presigned POST policies (LocalStack and AWS do)")
            )


@dataclass(frozen=True)
class StackUnderTest:
    """A running stack as a client sees it: its outputs, and AWS clients for its resources."""

    outputs: dict[str, str]
    deployed: bool
    backend: str  # moto, localstack or aws
    session: Any = field(repr=False)
    run_dir: Path | None = None  # a local stack's run folder (logs, state); None for a deployed stack
    parameters: dict[str, str] = field(default_factory=dict)  # a local stack's template parameter overrides

    def output(self, key: str) -> str:
        if key not in self.outputs:
            pytest.fail(f"the stack has no output {key!r} (it has {sorted(self.outputs)})", pytrace=False)
        return self.outputs[key]

    @property
    def api_url(self) -> str:
        return self.output("ApiUrl").rstrip("/")

    @property
    def web_origin(self) -> str:
        return self.output("WebOrigin")

    @property
    def web_url(self) -> str:
        return self.output("WebUrl")

    @property
    def bucket(self) -> str:
        return self.output("ImagesBucketName")

    @property
    def endpoint_url(self) -> str:
        return self.output("AwsEndpointUrl")

    @property
    def template(self) -> ResolvedTemplate:
        """The template as the local stack resolved it (local stacks only: names, parameters)."""
        return ResolvedTemplate(
            load_template(), LocalNames(endpoint_url=self.endpoint_url, parameter_overrides=self.parameters)
        )

    @property
    def enforces_presigned_policy(self) -> bool:
        return self.backend != "moto"

    def queue_url(self, logical_id: str) -> str:
        """ClassifyQueue -> the ClassifyQueueUrl output."""
        return self.output(f"{logical_id}Url")

    def client(self, service: str) -> Any:
        endpoint = self.outputs.get("AwsEndpointUrlDynamodb") if service == "dynamodb" else None
        return self.session.client(service, endpoint_url=endpoint or self.outputs.get("AwsEndpointUrl"))

    def table(self, logical_id: str) -> Any:
        """PredictionsTable -> the table named by the PredictionsTableName output."""
        endpoint = self.outputs.get("AwsEndpointUrlDynamodb") or self.outputs.get("AwsEndpointUrl")
        return self.session.resource("dynamodb", endpoint_url=endpoint).Table(self.output(f"{logical_id}Name"))

    @property
    def api_key(self) -> str:
        """The X-Api-Key machine clients' routes accept: an output locally, API Gateway's key on AWS."""
        if "MachineApiKey" in self.outputs:
            return self.outputs["MachineApiKey"]
        reply = self.session.client("apigateway").get_api_key(apiKey=self.output("MachineApiKeyId"), includeValue=True)
        return reply["value"]

    @property
    def cognito(self) -> Any:
        """The staff user pool's Cognito API: moto's locally (on either backend), Cognito's on AWS."""
        if self.deployed:
            return self.session.client("cognito-idp")
        endpoint = self.outputs.get("AwsEndpointUrlCognitoIdp") or self.output("StaffCognitoEndpoint")
        return self.session.client("cognito-idp", endpoint_url=endpoint)

    def staff(self, *groups: str) -> "StaffLogin":
        """A signed-in member of staff in `groups` (none: a member of no group), made once per session with a
        uuid-suffixed name, as an administrator would (docs/deploy.md#staff)."""
        key = (self.output("StaffUserPoolId"), tuple(sorted(groups)))
        if key not in _STAFF:
            _STAFF[key] = make_staff(self, list(groups))
        return _STAFF[key]


@dataclass(frozen=True)
class StaffLogin:
    username: str
    password: str
    sub: str
    id_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        """What the staff pages send: the raw ID token as Authorization (the Cognito authorizer's header)."""
        return {"Authorization": self.id_token}


_STAFF: dict[tuple[str, tuple[str, ...]], StaffLogin] = {}


def make_staff(stack: StackUnderTest, groups: list[str], username: str | None = None) -> StaffLogin:
    from infra.local.staff import add_staff

    username = username or f"test-{'-'.join(groups) or 'nobody'}-{uuid.uuid4().hex[:8]}"
    pool = stack.output("StaffUserPoolId")
    password = add_staff(stack.cognito, pool, username, groups)
    return sign_in(stack, username, password)


def sign_in(stack: StackUnderTest, username: str, password: str) -> StaffLogin:
    """USER_PASSWORD_AUTH, as the review page does it."""
    result = stack.cognito.initiate_auth(
        ClientId=stack.output("StaffUserPoolClientId"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    user = stack.cognito.get_user(AccessToken=result["AccessToken"])
    sub = next(attribute["Value"] for attribute in user["UserAttributes"] if attribute["Name"] == "sub")
    return StaffLogin(username, password, sub, result["IdToken"], result.get("RefreshToken", ""))


def _outputs(described: list[dict[str, str]]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in described}


def _deployed_stack(name: str) -> StackUnderTest:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    session = boto3.Session()
    try:
        described = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except (NoCredentialsError, NoRegionError) as error:
        pytest.exit(
            f"cannot test the deployed stack {name!r}: {str(error).rstrip('.')}. Set AWS credentials and a region "
            "(AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION), then run again.",
            returncode=2,
        )
    except (ClientError, BotoCoreError) as error:
        pytest.exit(f"cannot describe the stack {name!r}: {error}", returncode=2)
    return StackUnderTest(_outputs(described.get("Outputs", [])), deployed=True, backend="aws", session=session)


# Lambda limits init to 10 s (tests/process/test_invoker.py checks the host applies that rule). The test machine
# is shared and often loaded many times over, where importing TensorFlow alone can take longer: the stacks
# started here allow more, so what they test is the service, not the machine's load.
STACK_OPTIONS = ("--init-timeout-seconds", "120")


def _start_local_stack(
    backend: str,
    run_dir: Path,
    ports: tuple[int, int, int] | None = None,
    extra_parameters: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> subprocess.Popen:
    if backend not in BACKENDS:
        pytest.exit(f"PHOTOMOD_TEST_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}", returncode=2)
    # Free ports of its own, so the tests run beside a developer's `make up` and beside each other.
    emulator_port, api_port, web_port = ports or (free_port(), free_port(), free_port())
    command = [sys.executable, "-m", "infra.local.stack", "up", "--run-dir", str(run_dir), "--emulator", backend]
    command += ["--emulator-port", str(emulator_port), "--api-port", str(api_port), "--web-port", str(web_port)]
    command += [*STACK_OPTIONS, *extra_args]
    parameters = {
        "WebOrigin": f"http://localhost:{web_port}",
        # Short timeouts so retries and the dead-letter queue can be observed within a test run.
        "ClassifyTimeoutSeconds": "10",
        "ClassifyQueueVisibilityTimeoutSeconds": "10",
        # The fewest deliveries the template allows, so the dead-letter path is reached quickly.
        "ClassifyMaxReceiveCount": "3",
        # A shop's policy put with `make policy` judges photos within seconds (test_shop_policy.py).
        "PolicyCacheSeconds": "2",
        # Every test reports from 127.0.0.1: room for the suite's reports; the limit's own test uses an address
        # of its own (tests/integration/test_report_limits.py).
        "ReportHidesPerAddressPerHour": "40",
        # The suite uploads the same sample photos dozens of times, which is what reused_photo sends to review,
        # and its moderators block some of them, which would block every later upload of the same photo: the
        # photo bank runs only in its own stack (tests/integration/test_photo_bank_flow.py).
        "CountPhotoReuse": "false",
        "BankModeratorBlocks": "false",
        **(extra_parameters or {}),
    }
    for name, value in parameters.items():
        command += ["--parameter", f"{name}={value}"]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    )
    process.parameters = parameters  # type: ignore[attr-defined]
    return process


def _wait_until_ready(process: subprocess.Popen) -> None:
    output: list[str] = []
    ready = threading.Event()

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "stack ready" in line:
                ready.set()

    process.output = output  # type: ignore[attr-defined]
    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not ready.is_set():
        process.kill()
        pytest.fail("the local stack did not become ready:\n" + "".join(output), pytrace=False)


def stop_stack(process: subprocess.Popen) -> None:
    """What `make down` does: SIGTERM, then wait for everything (and the emulator's state) to be saved."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[StackUnderTest]:
    if DEPLOYED_STACK:
        yield _deployed_stack(DEPLOYED_STACK)
        return
    request.getfixturevalue("served_model")  # converted before the stack starts, with its progress in the output
    run_dir = Path(tempfile.mkdtemp(prefix=f"photomod-{BACKEND}-"))
    process = _start_local_stack(BACKEND, run_dir)
    try:
        _wait_until_ready(process)
        outputs = _outputs(json.loads((run_dir / "outputs.json").read_text()))
        # The emulators accept any credentials; never the developer's real ones.
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        yield StackUnderTest(
            outputs, deployed=False, backend=BACKEND, session=session, run_dir=run_dir, parameters=process.parameters
        )
    finally:
        stop_stack(process)


@pytest.fixture(scope="session")
def local_stack(stack: StackUnderTest) -> StackUnderTest:
    """The name the tests were written with; it is whichever stack is under test."""
    return stack


def launch_stack(
    run_dir: Path, ports: tuple[int, int, int], parameters: dict[str, str], extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, StackUnderTest]:
    """A local stack of a test's own on the embedded emulator (restarts, schedules); fails the test if not ready."""
    process = _start_local_stack("moto", run_dir, ports, parameters, extra_args)
    _wait_until_ready(process)
    outputs = _outputs(json.loads((run_dir / "outputs.json").read_text()))
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    return process, StackUnderTest(
        outputs, deployed=False, backend="moto", session=session, run_dir=run_dir, parameters=process.parameters
    )


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, shared by a browser test module."""
    from playwright.sync_api import sync_playwright

    from tests.integration import browser

    with sync_playwright() as playwright:
        launched = browser.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def uncaught_errors() -> list[str]:
    """JavaScript exceptions the page did not catch; every test ends expecting none."""
    return []
