# gameday: the two quick-start commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GAMEDAY := $(BIN)/gameday

.PHONY: bootstrap demo test test-unit fuzz lint experiments-measured stack-down clean bench-setup bench-load example-report bench bench-quick bench-distributed bench-capacity

# Two distributions, both editable: the harness (pyproject.toml, package gameday, with
# the dev tools) and the reference service (service/pyproject.toml, package service).
# The venv is rebuilt when either file (where every pin lives) changes.
$(VENV)/.installed: pyproject.toml service/pyproject.toml
	@echo "bootstrap: creating $(VENV) and installing the pinned Python dependencies ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -q --disable-pip-version-check -e ./service -e '.[dev]'
	@touch $@

bootstrap: $(VENV)/.installed
	@$(GAMEDAY) stack install

# The whole main job on a fresh machine: stack, corpus, a short game day with
# the OpenSearch outage, and the report's path and verdict. A FAIL verdict is a
# finding, not a broken demo: only a harness error (exit 2) fails the target.
DEMO_RUN := reports/demo-$(shell date +%Y%m%d-%H%M%S)
demo: bootstrap
	@$(GAMEDAY) stack up
	@$(GAMEDAY) seed --docs 5000 --tenants 5 --wait-indexed 2m
	@$(GAMEDAY) run --scenario search_mix --rate 30 --duration 3m \
		--experiment experiments/opensearch-down.json --out $(DEMO_RUN); \
		code=$$?; [ $$code -le 1 ] || exit $$code
	@echo "report: $(DEMO_RUN)/index.html"

# Three pytest sessions on one stack: the cluster modules alone, then the tests on the
# session stack's proxies beside those that use none (tests/lanes.py says which and why).
# A plain `.venv/bin/pytest` still runs everything in one session.
test: bootstrap
	@$(BIN)/python -m tests.lanes

test-unit: $(VENV)/.installed
	@$(BIN)/pytest tests/unit

# The API fuzzing suite at length: schemathesis, 500 examples per operation and identity
# (CI runs 25 inside `make test`). Uses the running stack or starts it.
fuzz: bootstrap
	@GAMEDAY_FUZZ_EXAMPLES=$${GAMEDAY_FUZZ_EXAMPLES:-500} $(BIN)/pytest tests/integration/service/test_api_fuzz.py

# ruff; strict mypy on gameday/, service/, scenarios/ and bench/; the import contracts
# in pyproject.toml [tool.importlinter] (the harness's layers, service <-> harness).
lint: $(VENV)/.installed
	@command -v promtool >/dev/null || { echo "lint: promtool is missing: run \`make bootstrap\` (Debian package prometheus)" >&2; exit 1; }; promtool check rules --lint-fatal deploy/prometheus/rules.yml >/dev/null
	@$(BIN)/ruff check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports

bench-setup:
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx-light)

bench-load: bootstrap bench-setup
	@$(BIN)/python bench/load_per_core.py

# All five benchmarks, each printing its table and ratios (bench/RESULTS.md has the
# last published ones). The service and stack benchmarks need the running stack
# (`gameday stack up`) and start their own private processes; about 30 minutes.
bench: bootstrap bench-setup
	@$(BIN)/python bench/load_per_core.py
	@$(BIN)/python bench/histogram_merge.py
	@$(BIN)/python bench/service.py
	@$(BIN)/python bench/access_log_cost.py
	@$(BIN)/python bench/report_build.py
	@$(BIN)/python bench/stack_startup.py

# A quick look (a few minutes; the service and indexing parts need the running stack):
# load per core with the open model, benchmarks 2 and 4 shortened (report building for 1 h
# and 6 h), the service on 1 worker next to its bare ceilings (saturation only), what its
# request middleware costs, and the indexing rate. Not in it: the 32-worker run
# (`make bench-distributed`) and capacity before/after (`make bench-capacity BASELINE=DIR`).
bench-quick: bootstrap bench-setup
	@$(BIN)/python bench/load_per_core.py --rounds 3 --seconds 3
	@taskset -c 0 $(BIN)/python bench/arrival_cost.py --rounds 3
	@$(BIN)/python bench/histogram_merge.py --rounds 3
	@$(BIN)/python bench/report_build.py 3600 21600
	@$(BIN)/python bench/service.py --rounds 3 --seconds 2 --docs 2000 --only "1w uvloop" --no-latency
	@$(BIN)/python bench/access_log_cost.py --rounds 3
	@$(BIN)/python bench/indexing.py --rounds 1 --docs 20000 --direct

# The stack's capacity at SLO, an older checkout against this one in one run (about 12
# minutes): git archive <commit> service gameday targets scenarios | tar -x -C DIR
bench-capacity: bootstrap
	@test -n "$(BASELINE)" || { echo "bench-capacity: name the older checkout: make bench-capacity BASELINE=DIR (git archive <commit> service gameday targets scenarios | tar -x -C DIR)" >&2; exit 2; }
	@GAMEDAY_KEEP_STACK=1 $(BIN)/python bench/capacity.py --baseline $(BASELINE) --scenario search_mix --start-rate 50 --max-rate 1600 --step-duration 15s

# Distribution for real: 32 workers merged on this machine (issue 17, goal 4), about a
# minute against the running stack's liveness route; bench/RESULTS.md has the last figures.
bench-distributed: bootstrap
	@GAMEDAY_KEEP_STACK=1 $(BIN)/python bench/distributed.py --workers 32 --rate 320 --duration 30s

# docs/experiments.md's "last measured" column, from a real run of each experiment against
# the running stack (about 12 minutes; run directories kept in reports/measured/).
experiments-measured: $(VENV)/.installed
	@$(BIN)/python docs/tools/last_measured.py --run

stack-down:
	@$(GAMEDAY) stack down

clean: stack-down
	@$(GAMEDAY) stack down --purge

# The committed example report (reports/example/) from a real short run with the
# Redis outage against the running stack, and the README's screenshot of it.
# Locust's own HTML report (about 1 MB) is dropped; a FAIL verdict is kept as found.
example-report: $(VENV)/.installed
	@rm -rf reports/example
	@$(GAMEDAY) run --scenario search_mix --rate 20 --experiment experiments/redis-down.json \
		--target http://127.0.0.1:28080 --out reports/example; \
		code=$$?; rm -f reports/example/locust/report.html; [ $$code -le 1 ] || exit $$code
	@mkdir -p docs/img && profile=$$(mktemp -d) && chromium --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --hide-scrollbars --user-data-dir=$$profile --window-size=1280,1600 \
		--screenshot=docs/img/report.png "file://$(CURDIR)/reports/example/index.html"; \
		code=$$?; rm -rf $$profile; exit $$code
