# The README's two commands: `make demo` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup system lint bench clean

demo: setup system  ## start a local Kafka, a worker, replay the bundled streams, show live predictions
	$(BIN)/tracer demo

test: setup system  ## lint, type-check and run every test against a real Kafka broker
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system:
	./scripts/bootstrap.sh

bench: setup system  ## print the benchmark tables (figures, not asserts)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	# quixstreams 3.28.1 (the peer in bench/throughput.py) declares pydantic<2.14; it runs with our pin.
	$(BIN)/pip install --quiet quixstreams==3.28.1 && $(BIN)/pip install --quiet pydantic==2.14.3
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .tracer build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf sdk/typescript/node_modules sdk/typescript/dist sdk/typescript/build
