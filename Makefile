# Every target bootstraps its own virtual environment from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint unit bench demo local localstack clean

install: $(STAMP)

# Reinstall when the pins change. pip, setuptools and wheel are pinned too, so a fresh clone builds the same way.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

test: lint
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)
	$(BIN)/python -m bench.run

demo: $(STAMP)
	$(BIN)/mlnews local demo

local: $(STAMP)
	$(BIN)/mlnews local up

# Needs Docker and LOCALSTACK_AUTH_TOKEN; see docs/local-mode.md.
localstack:
	docker compose -f docker-compose.localstack.yml up -d
	@echo "LocalStack is starting; deploy with: samlocal build && samlocal deploy --guided (docs/local-mode.md)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info

# ---------------------------------------------------------------- Lambda packages (`sam build`)
# Every function in template.yaml has `Metadata: BuildMethod: makefile`, so `sam build` runs build-<LogicalId>
# here (ARTIFACTS_DIR set by SAM) instead of copying the whole repository into each function. One lean
# package for all: the source folders below plus requirements.txt, installed as wheels for the functions'
# runtime and architecture (template Globals: python3.12, arm64), whatever machine builds them.
# local/stack.py packages the same LAMBDA_SOURCES for local mode; tests/unit/test_template.py checks both.
LAMBDA_SOURCES := core handlers training
LAMBDA_PYTHON_VERSION := 3.12
# Lambda's python3.12 runtime has glibc 2.34: wheels up to manylinux_2_28 run there (numpy >= 2.3 ships only those).
LAMBDA_PLATFORMS := manylinux2014_aarch64 manylinux_2_28_aarch64
LAMBDA_PIP = $(PYTHON) -m pip

.PHONY: build-PredictFunction build-FeedbackApiFunction build-FeedbackConsumerFunction build-ModelAdminFunction \
	build-RetrainCheckFunction build-PrepareDataFunction build-EvaluateModelFunction build-RecordOutcomeFunction

build-PredictFunction build-FeedbackApiFunction build-FeedbackConsumerFunction build-ModelAdminFunction \
build-RetrainCheckFunction build-PrepareDataFunction build-EvaluateModelFunction build-RecordOutcomeFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R $(LAMBDA_SOURCES) "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(LAMBDA_PIP) install --quiet --disable-pip-version-check --no-compile -r requirements.txt \
		--target "$(ARTIFACTS_DIR)" $(addprefix --platform ,$(LAMBDA_PLATFORMS)) --implementation cp \
		--python-version $(LAMBDA_PYTHON_VERSION) --only-binary=:all:
