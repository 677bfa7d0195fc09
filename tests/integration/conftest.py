"""Starts the embedded local stack once per test session, on ports of its own, and stops it afterwards."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from infra.template import REPO_ROOT, LocalNames, ResolvedTemplate, load_template


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Free ports of its own, so the tests run beside a developer's `make up` and beside each other.
EMULATOR_PORT, API_PORT, WEB_PORT = _free_port(), _free_port(), _free_port()
WEB_ORIGIN = f"http://localhost:{WEB_PORT}"
# Short timeouts so retries and the dead-letter queue can be observed within a test run.
PARAMETERS = {
    "WebOrigin": WEB_ORIGIN,
    "ClassifyTimeoutSeconds": "10",
    "ClassifyQueueVisibilityTimeoutSeconds": "10",
    # The fewest deliveries the template allows, so the dead-letter path is reached quickly.
    "ClassifyMaxReceiveCount": "3",
}
READY_TIMEOUT_S = 180
# Lambda limits init to 10 s (tests/unit/test_invoker.py checks the host applies that rule). The test machine
# is shared and often loaded many times over, where importing TensorFlow alone can take longer: the stacks
# started here allow more, so what they test is the service, not the machine's load.
STACK_OPTIONS = ("--init-timeout-seconds", "120")


@dataclass(frozen=True)
class RunningStack:
    api_url: str
    web_url: str
    endpoint_url: str
    web_origin: str
    template: ResolvedTemplate
    run_dir: Path

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    @property
    def bucket(self) -> str:
        return self.template.ref("ImagesBucket")

    def table(self, logical_id: str):
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        return resource.Table(self.template.ref(logical_id))

    @property
    def api_key(self) -> str:
        """The X-Api-Key the stack's moderator routes accept (it generates one at start-up)."""
        return (self.run_dir / "api-key").read_text().strip()

    def log(self, name: str) -> str:
        path = self.run_dir / "logs" / f"{name}.log"
        return path.read_text() if path.exists() else ""


def launch_stack(
    run_dir: Path,
    ports: tuple[int, int, int],
    parameters: dict[str, str],
    extra_args: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, RunningStack]:
    """`python -m infra.stack up` on these ports; returns once it says it is ready (fails the test otherwise)."""
    emulator_port, api_port, web_port = ports
    command = [
        sys.executable,
        "-m",
        "infra.stack",
        "up",
        "--run-dir",
        str(run_dir),
        "--emulator-port",
        str(emulator_port),
        "--api-port",
        str(api_port),
        "--web-port",
        str(web_port),
        *STACK_OPTIONS,
        *extra_args,
    ]
    for name, value in parameters.items():
        command += ["--parameter", f"{name}={value}"]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    )
    output: list[str] = []
    ready = threading.Event()

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "stack ready" in line:
                ready.set()

    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not ready.is_set():
        process.kill()
        pytest.fail("the local stack did not become ready:\n" + "".join(output), pytrace=False)

    endpoint = f"http://127.0.0.1:{emulator_port}"
    template = ResolvedTemplate(load_template(), LocalNames(endpoint_url=endpoint, parameter_overrides=parameters))
    process.output = output  # type: ignore[attr-defined]
    return process, RunningStack(
        api_url=f"http://127.0.0.1:{api_port}",
        web_url=f"http://localhost:{web_port}",
        endpoint_url=endpoint,
        web_origin=f"http://localhost:{web_port}",
        template=template,
        run_dir=run_dir,
    )


def stop_stack(process: subprocess.Popen) -> None:
    """What `make down` does: SIGTERM, then wait for everything (and the emulator's state) to be saved."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def local_stack():
    run_dir = Path(tempfile.mkdtemp(prefix="photomod-stack-"))
    process, stack = launch_stack(run_dir, (EMULATOR_PORT, API_PORT, WEB_PORT), PARAMETERS)
    yield stack
    stop_stack(process)
