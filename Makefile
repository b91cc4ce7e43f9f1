# Two commands: `make serve` runs the service on embedded SQLite, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The service's venv: `make serve` puts only what the service runs on in it (requirements.lock),
# `make test` adds the test tools (requirements-dev.lock). Both lock files pin every package
# with its hashes; `make lock` writes them again from pyproject.toml.
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev
# mypyc compiles the facts builder (setup.py) in a venv of its own, so the service's venv
# holds no compiler toolchain; requirements-build.lock pins it (pyproject's build-system).
BUILD_VENV := .venv-build
BUILD := $(BUILD_VENV)/.installed
COMPILED := rules/catalogue/units.py rules/facts/fhir_access.py rules/facts/quantities.py rules/facts/medication.py rules/facts/elements.py rules/facts/durations.py rules/facts/exposure.py rules/facts/reading.py rules/facts/orders.py rules/facts/history.py rules/facts/patient.py rules/facts/builder.py
ifeq ($(OPIOID_CDS_PURE_PYTHON),1)
NATIVE := $(VENV)/.pure
else
NATIVE := $(VENV)/.compiled
endif

.PHONY: serve test lint typecheck pytest install clean bench lock

# The project itself is installed editable, as plain Python; $(NATIVE) then compiles in place.
$(RUNTIME): pyproject.toml setup.py requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	OPIOID_CDS_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME) requirements-dev.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(DEV)

$(BUILD): requirements-build.lock
	test -x $(BUILD_VENV)/bin/python || $(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-build.lock
	touch $(BUILD)

# Compiled again after every edit of a compiled module: Python prefers the compiled file, so
# a stale one would run old code. OPIOID_CDS_PURE_PYTHON=1 removes them instead.
ifeq ($(OPIOID_CDS_PURE_PYTHON),1)
$(NATIVE): $(RUNTIME)
	rm -f rules/*.so rules/catalogue/*.so rules/facts/*.so $(VENV)/.compiled
	touch $(NATIVE)
else
$(NATIVE): $(RUNTIME) $(BUILD) $(COMPILED)
	$(BUILD_VENV)/bin/python setup.py --quiet build_ext --inplace
	rm -f $(VENV)/.pure
	touch $(NATIVE)
endif

install: $(NATIVE)

# Development trusts the public CDS Hooks sandbox; set OPIOID_CDS_TRUSTED_CLIENTS to override.
serve: export OPIOID_CDS_TRUSTED_CLIENTS ?= config/trusted-clients.development.yaml
serve: $(NATIVE)
	$(BIN)/opioid-cds migrate
	$(BIN)/uvicorn --factory app.main:create_app --h11-max-incomplete-event-size 131072 --host $(HOST) --port $(PORT)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy app cds_hooks rules fhir_fixtures tests bench

# The build venv also builds the wheel in tests/packaging.
pytest: $(DEV) $(NATIVE) $(BUILD)
	$(BIN)/python -m pytest

test: lint typecheck pytest

# uv (a dev tool) resolves for every platform, so the lock files hold on Linux, macOS and in
# the image alike.
LOCK := $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"
lock: $(DEV)
	$(LOCK) pyproject.toml -o requirements.lock
	$(LOCK) pyproject.toml --extra dev -o requirements-dev.lock
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
		| $(LOCK) - -o requirements-build.lock

clean:
	rm -rf $(VENV) $(BUILD_VENV) var build .mypy_cache .ruff_cache .pytest_cache rules/*.so rules/catalogue/*.so rules/facts/*.so
