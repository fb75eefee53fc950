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
	# quixstreams 3.28.1 (peer (d) of bench/throughput.py) declares pydantic<2.14 and confluent-kafka<2.13;
	# it runs with our pydantic pin and with the confluent-kafka Bytewax (peer (e)) needs, so its
	# dependencies are installed by name.
	$(BIN)/pip install --quiet --no-deps quixstreams==3.28.1
	$(BIN)/pip install --quiet rocksdict orjson pydantic-settings jsonschema jsonlines jsonpath-ng \
		"confluent-kafka[schemaregistry]==2.16.2"
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .tracer build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf sdk/typescript/node_modules sdk/typescript/dist sdk/typescript/build
