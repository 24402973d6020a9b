# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check bench venv migrate

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap
	$(PY) -m playground.server -b 127.0.0.1 -p $${PORT:-8000} playground.asgi:application

# The suite runs on TEST_WORKERS pytest-xdist workers (tests/README.md: what each
# worker gets of its own). TEST_WORKERS=0 runs it in this one process. Two, one a core:
# more workers than cores starved the suite's timing-sensitive tests on a 2-core machine.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

check: $(STAMP)
	$(VENV)/bin/ruff check reasoning playground tests bench
	$(VENV)/bin/mypy

# Every section, with the references in the same run (bare httpx / aiohttp / aiohttp on
# uvloop readers and the LiteLLM proxy, installed once into bench/.peers-venv):
# one table of figures and ratios (bench/README.md). BENCH_ARGS replaces the default.
BENCH_ARGS ?= --peers

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)
