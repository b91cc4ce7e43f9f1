# Two commands: `make serve` runs the service on embedded SQLite, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck pytest install clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Development trusts the public CDS Hooks sandbox; set OPIOID_CDS_TRUSTED_CLIENTS to override.
serve: export OPIOID_CDS_TRUSTED_CLIENTS ?= config/trusted-clients.development.yaml
serve: $(STAMP)
	$(BIN)/opioid-cds migrate
	$(BIN)/uvicorn --factory app.main:create_app --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy app cds_hooks rules tests bench

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
