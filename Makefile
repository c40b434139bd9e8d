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
