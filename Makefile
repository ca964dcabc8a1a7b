# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed
DEMO_ARCHIVE ?= demo-archive

.PHONY: demo test lint venv clean bench bench-push eval-extraction

venv: $(DEPS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	# a new venv's pip (23.x) skips trafilatura's lxml_html_clean dependency: upgrade it first
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEPS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(DEPS)
	rm -rf $(DEMO_ARCHIVE)
	$(BIN)/newsarchiver demo --archive $(DEMO_ARCHIVE)

test: $(DEPS)
	$(BIN)/ruff check crawler pipelines storage tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

# crawl a synthetic outlet on loopback: bare Scrapy, WARC only, the full pipeline, and the
# one-core extraction floor (BENCH_ARGS="--pages 5000 --runs 1"; "--large" for the memory target)
bench: $(DEPS)
	$(BIN)/python -m bench.pipeline_bench $(BENCH_ARGS)

# push ~1 GB of WARC-sized files to a local SeaweedFS, against a plain boto3 loop
# (BENCH_ARGS="--size-mb 256 --runs 1" for a quick look)
bench-push: $(DEPS)
	$(BIN)/python -m bench.push_bench $(BENCH_ARGS)

# the project's extractor beside plain trafilatura (comments off) on ../shared/extraction-devset
eval-extraction: $(DEPS)
	$(BIN)/python -m bench.eval_extraction $(EVAL_ARGS)

lint: $(DEPS)
	$(BIN)/ruff check crawler pipelines storage tests bench
	$(BIN)/ruff format --check crawler pipelines storage tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_ARCHIVE) .pytest_cache .mypy_cache .ruff_cache *.egg-info
