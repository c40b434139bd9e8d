# Every target bootstraps its own virtual environment from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint bench demo local localstack clean training-wheels training-image training-python

# The Lambda runtime is python3.12: the handler tests also run there. No fallback to another Python, so a
# 3.12-only failure cannot pass unnoticed; pyenv installs are found when python3.12 is not on PATH.
# find_python is the one finder, also for the training image's Python (PYTHON_TRAINING below).
LAMBDA_VENV := .venv-lambda
LAMBDA_BIN := $(LAMBDA_VENV)/bin
LAMBDA_STAMP := $(LAMBDA_VENV)/.installed-stamp
find_python = $(shell v=$(1); for p in python$$v $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v; do \
	"$$p" -c "import sys; assert sys.version.startswith('$$v.')" 2>/dev/null && { echo "$$p"; break; }; done)
PYTHON_LAMBDA ?= $(call find_python,$(LAMBDA_PYTHON_VERSION))
HANDLER_TESTS := $(wildcard tests/aws/test_handlers_*.py)

# The default training image (local/training_image.json, checked by tests/packaging/test_training_image.py): local
# jobs run on its Python; PrepareData ships the wheels of what it lacks for its platform (rules further down).
TRAINING_PYTHON_VERSION := 3.12
PYTHON_TRAINING ?= $(call find_python,$(TRAINING_PYTHON_VERSION))
TRAINING_PLATFORMS := manylinux2014_x86_64 manylinux_2_28_x86_64
TRAINING_PINS = $(shell grep -E '^[A-Za-z0-9]' training/requirements.txt)
TRAINING_WHEELS := training-wheels
TRAINING_WHEELS_STAMP := $(TRAINING_WHEELS)/.installed-stamp
TRAINING_VENV := .venv-training
TRAINING_STAMP := $(TRAINING_VENV)/.installed-stamp

install: $(STAMP) $(TRAINING_WHEELS_STAMP)

# Reinstall when the pins change. pip, setuptools and wheel are pinned too, so a fresh clone builds the same way.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(LAMBDA_STAMP): pyproject.toml
	@test -n "$(PYTHON_LAMBDA)" || { echo "Python $(LAMBDA_PYTHON_VERSION) (the Lambda runtime) is needed for the handler tests: install it (e.g. pyenv install $(LAMBDA_PYTHON_VERSION)) or set PYTHON_LAMBDA=/path/to/python$(LAMBDA_PYTHON_VERSION)"; exit 2; }
	$(PYTHON_LAMBDA) -m venv $(LAMBDA_VENV)
	$(LAMBDA_BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(LAMBDA_BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(LAMBDA_STAMP)

# ---------------------------------------------------------------- training fidelity (issue 7)
# Local jobs run like the default training image (local/training_image.json): its Python and scientific stack,
# the SageMaker toolkit's conventions, no package index. What the image lacks (training/requirements.txt)
# travels as wheels in sourcedir.tar.gz: from training-wheels/ here, from the PrepareData package on AWS.
# Both steps are stamped; local mode also runs them lazily when they are missing.
training-wheels: $(TRAINING_WHEELS_STAMP)

$(TRAINING_WHEELS_STAMP): training/requirements.txt local/training_image.json | $(STAMP)
	$(BIN)/python -m local.training_image wheels

training-image: $(TRAINING_STAMP)

$(TRAINING_STAMP): local/training_image.json | $(STAMP)
	@test -n "$(PYTHON_TRAINING)" || { echo "Python $(TRAINING_PYTHON_VERSION) (the training image's) is needed for local training jobs: install it (e.g. pyenv install $(TRAINING_PYTHON_VERSION)) or set PYTHON_TRAINING=/path/to/python$(TRAINING_PYTHON_VERSION)"; exit 2; }
	$(BIN)/python -m local.training_image build --python "$(PYTHON_TRAINING)"

# Local mode asks this when it builds the image environment lazily: one finder.
training-python:
	@echo "$(PYTHON_TRAINING)"

# ---------------------------------------------------------------- AWS tooling for `make lint` (issue 7)
# Each tool in its own sandbox with exact pins, reinstalled only when its pin file changes (stamps).
# asl-validator (npm, tools/aws/package*.json, `npm ci`: the lockfile decides) checks every state machine
# with the template's DefinitionSubstitutions applied (tools/validate_asl.py).
AWS_TOOLS := tools/aws
NODE_STAMP := $(AWS_TOOLS)/node_modules/.installed-stamp

$(NODE_STAMP): $(AWS_TOOLS)/package.json $(AWS_TOOLS)/package-lock.json
	cd $(AWS_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# checkov (pip, fully pinned in tools/checkov-requirements.txt) in its own venv: its dependencies conflict with
# the project's pins. Findings must be accepted per resource, with a reason, in tools/checkov-accepted.yaml.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

$(CHECKOV_STAMP): tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt
	@touch $(CHECKOV_STAMP)

# aws-sam-cli (pip, fully pinned in tools/sam-requirements.txt) in its own venv, for `sam validate --lint`:
# offline, with dummy credentials (it needs a region and credentials to start, and calls no AWS API with --lint).
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM_OFFLINE := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0

$(SAM_STAMP): tools/sam-requirements.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/sam-requirements.txt
	@touch $(SAM_STAMP)

lint: $(STAMP) $(NODE_STAMP) $(CHECKOV_STAMP) $(SAM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python tools/validate_asl.py template.yaml
	$(CHECKOV_VENV)/bin/python tools/checkov_check.py template.yaml
	$(SAM_OFFLINE) $(SAM_VENV)/bin/sam validate --lint -t template.yaml

# Debian's chromium, which the operator page's browser test drives with Playwright (no browser download);
# installed only when missing (a clean CI machine).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The whole suite with its coverage (the floor is fail_under in pyproject.toml), then the handler tests again
# on the Lambda runtime's Python.
test: lint $(LAMBDA_STAMP) $(TRAINING_WHEELS_STAMP) $(TRAINING_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q -n auto --cov --cov-report=term
	@echo "Handler tests again on the Lambda runtime's Python ($(LAMBDA_PYTHON_VERSION)):"
	$(LAMBDA_BIN)/python -m pytest -q -p no:cacheprovider $(HANDLER_TESTS)

# One tier of the suite (docs/DESIGN.md says which code each covers), without lint or coverage:
# test-unit (pure), test-aws (handlers and core against moto), test-local (state machine, training jobs,
# local mode), test-packaging (template, images, programs as processes), test-e2e (the demo story).
TEST_TIERS := unit aws local packaging e2e
.PHONY: $(addprefix test-,$(TEST_TIERS))
test-unit test-aws: $(STAMP)
test-local test-packaging test-e2e: $(STAMP) $(TRAINING_WHEELS_STAMP) $(TRAINING_STAMP)
test-e2e: $(CHROMIUM)
$(addprefix test-,$(TEST_TIERS)):
	$(BIN)/python -m pytest -q tests/$(@:test-%=%)

bench: $(STAMP)
	$(BIN)/python -m bench.run

# docs/reliability.md: 10,000 feedback messages under injected faults (~25 min), and 32 clients on local mode
# (~10 min); each writes bench/results/ and exits 1 when its goal is missed.
.PHONY: bench-faults bench-load
bench-faults: $(STAMP)
	$(BIN)/python -m bench.feedback_faults

bench-load: $(STAMP) $(TRAINING_WHEELS_STAMP)
	$(BIN)/python -m bench.load

# Training time and peak memory at 10k/50k/210k synthetic records, and the predict function's cold start as
# Lambda runs it (docs/scale.md); each writes its results to bench/results/.
.PHONY: bench-scale bench-cold-start
bench-scale: $(STAMP) $(TRAINING_WHEELS_STAMP) $(TRAINING_STAMP)
	$(BIN)/python -m bench.training_scale

bench-cold-start: $(STAMP) $(LAMBDA_STAMP)
	$(BIN)/python -m bench.lambda_cold_start

# Without the training image's Python, local mode runs jobs on .venv's Python and says so (make test needs it).
demo: $(STAMP) $(TRAINING_WHEELS_STAMP) $(if $(PYTHON_TRAINING),$(TRAINING_STAMP))
	$(BIN)/mlnews local demo

local: $(STAMP) $(TRAINING_WHEELS_STAMP) $(if $(PYTHON_TRAINING),$(TRAINING_STAMP))
	$(BIN)/mlnews local up

# docs/openapi.json as local mode serves /openapi.json (docs/api.md); a test fails when it is out of date.
.PHONY: openapi
openapi: $(STAMP) $(TRAINING_WHEELS_STAMP)
	$(BIN)/python -m local.openapi_document

# The operator page as one static HTML file for a deployed stack (docs/local-mode.md):
# make operator-page API=<the stack's ApiUrl> [OUT=build/operator-page.html]
.PHONY: operator-page
operator-page: $(STAMP)
	@test -n "$(API)" || { echo "usage: make operator-page API=<the stack's ApiUrl> [OUT=file]"; exit 2; }
	$(BIN)/python -m local.operator_page --api "$(API)" $(if $(OUT),--out "$(OUT)")

# Needs Docker and LOCALSTACK_AUTH_TOKEN; see docs/local-mode.md.
localstack:
	docker compose -f docker-compose.localstack.yml up -d
	@echo "LocalStack is starting; deploy with: samlocal build && samlocal deploy --guided (docs/local-mode.md)"

clean:
	rm -rf $(VENV) $(LAMBDA_VENV) $(CHECKOV_VENV) $(SAM_VENV) $(TRAINING_VENV) $(TRAINING_WHEELS) $(AWS_TOOLS)/node_modules .pytest_cache .ruff_cache build *.egg-info .coverage htmlcov

# ---------------------------------------------------------------- Lambda packages (`sam build`)
# Every function in template.yaml has `Metadata: BuildMethod: makefile`, so `sam build` runs build-<LogicalId>
# here (ARTIFACTS_DIR set by SAM) instead of copying the whole repository into each function. One lean
# package for all: the source folders below plus requirements.txt, installed as wheels for the functions'
# runtime and architecture (template Globals: python3.12, arm64), whatever machine builds them.
# local/stack.py packages the same LAMBDA_SOURCES for local mode; tests/packaging/test_template.py checks both.
LAMBDA_SOURCES := core handlers training
LAMBDA_PYTHON_VERSION := 3.12
# Lambda's python3.12 runtime has glibc 2.34: wheels up to manylinux_2_28 run there (numpy >= 2.3 ships only those).
LAMBDA_PLATFORMS := manylinux2014_aarch64 manylinux_2_28_aarch64
LAMBDA_PIP = $(PYTHON) -m pip
# Bytecode compiled by the runtime's Python: /var/task is read-only, so a module without its .pyc is compiled
# at every cold start (the predict function's import took 2.4 s instead of 0.4, docs/scale.md). unchecked-hash:
# zip times (2 s resolution) could make timestamp-checked .pyc look stale, and a built package never changes.
LAMBDA_COMPILE = $(if $(PYTHON_LAMBDA),$(PYTHON_LAMBDA) -m compileall -q -j 0 --invalidation-mode unchecked-hash \
	"$(ARTIFACTS_DIR)" >/dev/null,@echo "no Python $(LAMBDA_PYTHON_VERSION): the package has no .pyc (slower cold starts)")
# botocore ships the models of ~450 AWS services (28 MB); the functions call only these. Each client's creation
# lists every service directory, which took ~0.04 s of the predict function's cold start (docs/scale.md); a
# service left out fails at its client's creation with UnknownServiceError (tests/packaging/test_template.py
# holds this list to the services the code creates clients for).
LAMBDA_AWS_SERVICES := dynamodb events lambda s3 sagemaker secretsmanager sqs stepfunctions
LAMBDA_PRUNE_BOTOCORE = if [ -d "$(ARTIFACTS_DIR)/botocore/data" ]; then find "$(ARTIFACTS_DIR)/botocore/data" \
	-mindepth 1 -maxdepth 1 -type d $(foreach service,$(LAMBDA_AWS_SERVICES),! -name $(service)) -exec rm -rf {} +; fi
# PrepareData ships the training wheels in sourcedir.tar.gz (core/retraining/sourcedir.py): only the image's platform.
TRAINING_WHEELS_DOWNLOAD = $(LAMBDA_PIP) download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	--implementation cp --python-version $(TRAINING_PYTHON_VERSION) $(addprefix --platform ,$(TRAINING_PLATFORMS)) \
	-d "$(ARTIFACTS_DIR)/$(TRAINING_WHEELS)" $(TRAINING_PINS)

.PHONY: build-PredictFunction build-FeedbackApiFunction build-FeedbackConsumerFunction build-ModelAdminFunction \
	build-RetrainCheckFunction build-PrepareDataFunction build-EvaluateModelFunction build-RecordOutcomeFunction \
	build-PredictionKeyRotationFunction

build-PredictFunction build-FeedbackApiFunction build-FeedbackConsumerFunction build-ModelAdminFunction \
build-RetrainCheckFunction build-PrepareDataFunction build-EvaluateModelFunction build-RecordOutcomeFunction \
build-PredictionKeyRotationFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R $(LAMBDA_SOURCES) "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(LAMBDA_PIP) install --quiet --disable-pip-version-check --no-compile -r requirements.txt \
		--target "$(ARTIFACTS_DIR)" $(addprefix --platform ,$(LAMBDA_PLATFORMS)) --implementation cp \
		--python-version $(LAMBDA_PYTHON_VERSION) --only-binary=:all:
	$(LAMBDA_PRUNE_BOTOCORE)
	$(LAMBDA_COMPILE)
	$(if $(filter build-PrepareDataFunction,$@),$(TRAINING_WHEELS_DOWNLOAD))
