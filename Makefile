# The two commands a newcomer needs: `make run` and `make test`. Both start from a fresh
# machine with python3: they make the virtualenv and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: run test test-fast install browser haproxy node client-types lint clean bench bench-ab bench-cerbos bench-decision-log bench-propagation bench-embedded bench-scale bench-writes fuzz

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

## Serve the embedded default (SQLite in instance/) with the seed policy on 127.0.0.1:$(PORT).
run: install
	$(BIN)/flask --app service init-db --seed
	PORT=$(PORT) $(BIN)/gunicorn --config gunicorn.conf.py 'service:create_app()'

## The console's browser tests drive Debian's Chromium through Playwright (Playwright's own
## browser download is not reachable here).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	fc-list :lang=zh | grep -q . || apt-get install -y -qq fonts-wqy-microhei  # Chinese pages

## The documented production entry (deploy/haproxy.cfg) is tested with Debian's HAProxy.
haproxy:
	command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy)

## The TypeScript client's packages and the Express example's (npm ci, from their lock files).
node: clients/typescript/node_modules/.package-lock.json examples/storefront-express/node_modules/.package-lock.json

clients/typescript/node_modules/.package-lock.json: clients/typescript/package-lock.json
	cd clients/typescript && npm ci --no-audit --no-fund
	touch $@

examples/storefront-express/node_modules/.package-lock.json: examples/storefront-express/package-lock.json clients/typescript/node_modules/.package-lock.json
	cd examples/storefront-express && npm ci --no-audit --no-fund --ignore-scripts  # the client is built above
	touch $@

## After a change to the API's schemas: the OpenAPI document the TypeScript client is typed
## from, and its types (a test fails while either is stale).
client-types: install node
	$(BIN)/flask --app service openapi write clients/typescript/openapi.json
	cd clients/typescript && npm run types

## Lint, then the whole suite on SQLite and PostgreSQL, the console in headless Chromium,
## the TypeScript client under Node's test runner, on both cores (each xdist worker has its
## own databases and free ports).
test: install browser haproxy node
	$(BIN)/ruff check service tests bench authz_client examples harness
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## The inner loop: the unit tests (domain rules in memory) and the API tests on SQLite,
## without the schemathesis fuzz (a third of its time, and of collecting the rest: `make
## test` runs it).
test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not postgres and not slow" tests/unit tests/api \
		--ignore=tests/api/test_fuzz_api.py $(PYTEST_ARGS)

## The hostile-input, isolation and memory tests at full size (the suite runs them bounded):
## 1,000,000 random checks per world against the reference model, 500 schemathesis
## examples per operation, 1,000,000 unknown names for the memory bound, 200 random write
## sequences against two real workers.
fuzz: install haproxy
	AUTHZ_FUZZ_CHECKS=1000000 AUTHZ_FUZZ_EXAMPLES=500 AUTHZ_FUZZ_NAMES=1000000 AUTHZ_FUZZ_SEQUENCES=200 \
		$(BIN)/python -m pytest -q tests/api/test_isolation.py tests/api/test_fuzz_api.py \
		tests/api/test_memory_bound.py tests/api/test_hostile.py tests/api/test_escalation.py \
		tests/e2e/test_write_sequences.py $(PYTEST_ARGS)

## The performance table (docs/PERFORMANCE.md): needs the local PostgreSQL and wrk.
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

## This tree against another revision, interleaved on one database: BASE=<rev> (a budget
## "at least X" on a machine whose speed moves by a third between runs).
bench-ab: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.ab --base $(BASE) --scale $(or $(SCALE),large)

## Our /check against the Cerbos PDP (installed from npm on first use), wrk -t1 -c8, same run.
bench-cerbos: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.cerbos

## What the decision log (R19) costs /check and /check/batch: log off vs on, same run.
bench-decision-log: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.decision_log

## The embedded default (SQLite) against PostgreSQL: /check req/s in one run.
bench-embedded: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.embedded

## A platform of 20,000 tenants (about 16M rules, generated once into the local PostgreSQL)
## served by tenants loaded on demand: ready time, RSS, hit rate, cold loads, writes/s,
## one instance against three behind HAProxy (docs/SCALING.md).
bench-scale: install haproxy
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.scale

## Writes/s with 1, 2, 4, 8 writers on tenants of their own, and the CPU each write costs
## (part of bench-scale; this alone takes about a minute once the platform is generated).
## BASE=<rev>: 8 writers, this tree against that revision, interleaved round by round.
bench-writes: install
	$(BIN)/python -m bench.writes $(if $(BASE),--base $(BASE))

## Revoke visibility across workers and instances (needs the local PostgreSQL).
bench-propagation: install
	$(BIN)/python -m bench.propagation --trials 200

lint: install
	$(BIN)/ruff check service tests bench authz_client examples harness

clean:
	rm -rf $(VENV) instance .pytest_cache clients/typescript/node_modules clients/typescript/dist \
		clients/typescript/build-test examples/storefront-express/node_modules
