# The two commands of lcb (see README.md):
#   make run    set up, build and run `lcb sweep` on the embedded offline default
#   make test   set up and run the whole test suite
# Set-up is a Python virtual environment for graded programs (CPython 3.11 as LiveCodeBench
# recommends, with numpy and pandas) in .venv; lcb finds it through LCB_PYTHON.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
export LCB_PYTHON := $(abspath $(VENV))/bin/python
# The official `openai` Python client, for the test that talks to `lcb serve` with it.
OPENAI_VENV := .venv-openai
export LCB_OPENAI_PYTHON := $(abspath $(OPENAI_VENV))/bin/python

.PHONY: run test setup
setup: $(VENV)/.ready

# Without network (or PyPI) the venv lacks numpy and pandas, and lcb refuses to grade LiveCodeBench
# problems with it (it says how to fix that); the next `make` tries the install again.
$(VENV)/.ready: requirements-grader.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	if $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 10 \
	    -r requirements-grader.txt; then touch $@; \
	else echo "make: warning: could not install requirements-grader.txt (offline?); graded programs cannot import numpy or pandas" >&2; fi

# The OpenAI client's venv, for lcb-cli/tests/serve_openai_client.rs; offline, that test
# fails saying so, and the next `make test` tries the install again.
$(OPENAI_VENV)/.ready: lcb-cli/tests/openai_client/requirements.txt
	test -x $(OPENAI_VENV)/bin/python || $(PYTHON) -m venv $(OPENAI_VENV)
	if $(OPENAI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 10 \
	    -r lcb-cli/tests/openai_client/requirements.txt; then touch $@; \
	else echo "make: warning: could not install lcb-cli/tests/openai_client/requirements.txt (offline?); the openai client test will fail" >&2; fi

run: setup
	cargo run --release -p lcb-cli -- sweep $(ARGS)

test: setup $(OPENAI_VENV)/.ready
	cargo test --workspace
