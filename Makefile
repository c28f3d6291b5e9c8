# The README's commands. `make run` and `make test` each set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test test-fast lint bench ui screenshots clean

# constraints.txt pins torch to the CPU build 2.13.0 so no CUDA build is downloaded;
# editable_mode=compat puts the checkout on sys.path, which Hydra's plugin discovery
# (the hydra_plugins namespace package) needs.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]' --config-settings editable_mode=compat
	touch $@

setup: $(VENV)/.installed

run: setup  ## the default job: a Pareto search on the embedded digits dataset
	$(BIN)/dse -m experiment=pareto_digits

test: setup  ## the whole test suite, slow end-to-end tests included
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup  ## every benchmark, figures printed
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

ui: setup  ## browse the recorded runs
	$(BIN)/mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db

# The README's screenshots, retaken from outputs/ (run `make run` first) in headless Chromium.
screenshots: setup
	command -v chromium >/dev/null || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)
	$(BIN)/python scripts/screenshots.py --out docs/img

clean:
	rm -rf outputs/runs outputs/multirun outputs/cache
