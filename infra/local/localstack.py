"""LocalStack community edition as the local stack's S3 and SQS, run on the host (no Docker, no account token).

LocalStack lives in its own virtual environment (.venv-localstack, Python 3.13, `make localstack`), because it
pins its own boto3 and needs a newer Python than the functions. DynamoDB stays on moto (see infra/local/stack.py):
LocalStack's DynamoDB needs Java and DynamoDB Local, which it downloads at run time, and it listens on every
interface.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path

from infra.paths import REPO_ROOT
from infra.processes import die_with_parent

LOCALSTACK_PYTHON = REPO_ROOT / ".venv-localstack" / "bin" / "python"
# events: the verdict bus (and a shop's rules on it); ssm: a shop's own policy (docs/integrations.md).
SERVICES = ("s3", "sqs", "sts", "events", "ssm")
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 5  # it keeps no state worth a longer wait, and its shutdown often hangs


def localstack_environment(host: str, port: int, filesystem_root: Path) -> dict[str, str]:
    """LocalStack's settings for one loopback-only, offline, Docker-free instance."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LOCALSTACK_"))}
    return {
        **inherited,
        "OVERRIDE_IN_DOCKER": "0",  # host mode: never assume it runs in LocalStack's container
        "GATEWAY_SERVER": "hypercorn",  # the default server binds 0.0.0.0 whatever GATEWAY_LISTEN says
        "GATEWAY_LISTEN": f"{host}:{port}",
        "LOCALSTACK_HOST": f"{host}:{port}",  # the host in queue URLs and other returned addresses
        "SQS_ENDPOINT_STRATEGY": "off",  # queue URLs as <endpoint>/<account>/<name>, on the one address above
        "DNS_ADDRESS": "0",  # no DNS server of its own (it would bind port 53)
        "SERVICES": ",".join(SERVICES),
        "EAGER_SERVICE_LOADING": "1",  # ready means ready: the first request does not pay for loading S3
        "FILESYSTEM_ROOT": str(filesystem_root),
        "DISABLE_EVENTS": "1",  # no analytics calls home
        "SKIP_SSL_CERT_DOWNLOAD": "1",  # no certificate download: it makes a self-signed one offline
        "S3_SKIP_SIGNATURE_VALIDATION": "0",
    }


def _healthy(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=2) as reply:  # noqa: S310
            services = json.load(reply).get("services", {})
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return all(services.get(name) in ("available", "running") for name in SERVICES)


class LocalStackProcess:
    """One LocalStack runtime process (and whatever it starts), in a process group of its own."""

    def __init__(self, host: str, port: int, run_dir: Path, log_file: Path):
        self.host = host
        self.port = port
        self.run_dir = run_dir
        self.log_file = log_file
        self.endpoint_url = f"http://{host}:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Starts LocalStack and returns once S3 and SQS answer."""
        if not LOCALSTACK_PYTHON.exists():
            raise SystemExit(f"LocalStack is not installed ({LOCALSTACK_PYTHON} missing): run `make localstack`")
        # On a busy port LocalStack does not fail: its health check would answer from whatever server holds it.
        with socket.socket() as probe:
            if probe.connect_ex((self.host, self.port)) == 0:
                raise SystemExit(f"{self.host}:{self.port} is in use; LocalStack needs it free")
        filesystem_root = self.run_dir / "localstack"
        filesystem_root.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"],
                cwd=filesystem_root,
                env=localstack_environment(self.host, self.port, filesystem_root),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so stop() ends its children too
                # KILL, not TERM, if the stack is killed: LocalStack's shutdown after a TERM often hangs.
                preexec_fn=partial(die_with_parent, signal.SIGKILL),  # noqa: PLW1509
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(self.endpoint_url):
            if self.process.poll() is not None:
                raise RuntimeError(f"LocalStack exited with status {self.process.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"LocalStack was not ready after {START_TIMEOUT_S} s; see {self.log_file}")
            time.sleep(0.2)

    def stop(self) -> None:
        """TERM, then KILL the whole group: a TERM sometimes never ends LocalStack."""
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # also children that outlived the runtime
        self.process.wait()
