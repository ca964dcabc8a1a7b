# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed
DEMO_ARCHIVE ?= demo-archive

.PHONY: demo test lint docs venv clean bench bench-push eval-extraction redis-server chromium soak

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

# Debian's redis-server for testkit/redis_server.py: apt-get as root, else sudo -n, else say how
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "make: redis-server not on PATH; install it: sudo apt-get install redis-server" >&2; exit 1; fi; \
	  echo "installing redis-server (apt-get)"; \
	  APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq"; \
	  $$APT install -y --no-install-recommends redis-server >/dev/null \
	    || { $$APT update && $$APT install -y --no-install-recommends redis-server >/dev/null; } \
	    && command -v redis-server >/dev/null; \
	}

# Debian's Chromium (/usr/bin/chromium, the path testkit/chromium.py drives with Playwright;
# `playwright install` would download a browser build of its own): installed the same way
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "make: /usr/bin/chromium missing; install it: sudo apt-get install chromium" >&2; exit 1; fi; \
	  echo "installing chromium (apt-get)"; \
	  APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq"; \
	  $$APT install -y --no-install-recommends chromium >/dev/null \
	    || { $$APT update && $$APT install -y --no-install-recommends chromium >/dev/null; } \
	    && [ -x /usr/bin/chromium ]; \
	}

test: $(DEPS) redis-server chromium
	$(BIN)/ruff check crawler pipelines storage testkit tests bench docs/hooks
	$(BIN)/mypy
	$(BIN)/lint-imports
	# the docs site: a broken link or anchor, a page missing from nav or a setting without a
	# comment in crawler/settings.py fails here (docs/hooks/settings_ref.py)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest

# the documentation site (MkDocs, Material theme) into site/: open site/index.html, no network
docs: $(DEPS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# crawl a synthetic outlet on loopback: (1) bare Scrapy, (2) WARC only, (3) the full pipeline,
# (4) the one-core extraction floor (plain trafilatura, comments off) and (5) the two-core limit,
# against their targets, and where the full crawl's CPU goes (py-spy) (BENCH_ARGS="--pages 5000
# --runs 1"; "--large" for the memory target); then one worker against two through a local Redis,
# with Redis commands per page (CLUSTER_BENCH_ARGS="--pages 2000 --runs 3")
bench: $(DEPS) redis-server
	$(BIN)/python -m bench.pipeline_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.cluster_bench $(CLUSTER_BENCH_ARGS)

# push ~1 GB of WARC-sized files to a local SeaweedFS, against a plain boto3 loop
# (BENCH_ARGS="--size-mb 256 --runs 1" for a quick look)
bench-push: $(DEPS)
	$(BIN)/python -m bench.push_bench $(BENCH_ARGS)

# kill -9 a crawl of a 300-article local outlet at 20 random moments, then audit the archive:
# texts without a WARC record, warcio check, .open left, processes left behind (all must be 0)
soak: $(DEPS)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# the project's extractor beside plain trafilatura (comments off) on ../shared/extraction-devset
eval-extraction: $(DEPS)
	$(BIN)/python -m bench.eval_extraction $(EVAL_ARGS)

lint: $(DEPS)
	$(BIN)/ruff check crawler pipelines storage testkit tests bench docs/hooks
	$(BIN)/ruff format --check crawler pipelines storage testkit tests bench docs/hooks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_ARCHIVE) site .pytest_cache .mypy_cache .ruff_cache *.egg-info
