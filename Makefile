# Two commands: `make serve` runs the service on embedded SQLite, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
# The facts builder is compiled with mypyc (setup.py); these are its sources. The stamp names
# the build, so switching OPIOID_CDS_PURE_PYTHON on or off rebuilds.
COMPILED := rules/facts/fhir_access.py rules/facts/medication.py rules/facts/durations.py rules/facts/exposure.py rules/facts/reading.py rules/facts/orders.py rules/facts/history.py rules/facts/patient.py rules/facts/builder.py
ifeq ($(OPIOID_CDS_PURE_PYTHON),1)
NATIVE := $(VENV)/.pure
else
NATIVE := $(VENV)/.compiled
endif

.PHONY: serve test lint typecheck pytest install clean bench

# Installed as plain Python first; $(NATIVE) then compiles in place with the venv's mypyc.
$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	OPIOID_CDS_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compiled again after every edit of a compiled module: Python prefers the compiled file, so
# a stale one would run old code. OPIOID_CDS_PURE_PYTHON=1 removes them instead.
$(NATIVE): $(STAMP) $(COMPILED)
ifeq ($(OPIOID_CDS_PURE_PYTHON),1)
	rm -f rules/*.so rules/facts/*.so $(VENV)/.compiled
else
	$(BIN)/python setup.py --quiet build_ext --inplace
	rm -f $(VENV)/.pure
endif
	touch $(NATIVE)

install: $(NATIVE)

# Development trusts the public CDS Hooks sandbox; set OPIOID_CDS_TRUSTED_CLIENTS to override.
serve: export OPIOID_CDS_TRUSTED_CLIENTS ?= config/trusted-clients.development.yaml
serve: $(NATIVE)
	$(BIN)/opioid-cds migrate
	$(BIN)/uvicorn --factory app.main:create_app --h11-max-incomplete-event-size 131072 --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy app cds_hooks rules fhir_fixtures tests bench

pytest: $(NATIVE)
	$(BIN)/python -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var build .mypy_cache .ruff_cache .pytest_cache rules/*.so rules/facts/*.so
