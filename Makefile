# Every CI step is a local recipe too; .ci/run calls `make test`.
.PHONY: dev test test-fresh lint build chart image image-smoke chaos bench fuzz

# Build cortex, start the three-voter dev cluster and run the seed plan on it (Ctrl-C to stop).
dev:
	cargo run --bin cortex -- dev --demo

# Everything CI runs: formatting, lints, and the whole test suite.
test:
	bash scripts/test.sh

# `make test` as on a new machine: a fresh clone of HEAD with an empty cargo
# home, target directory and tool cache; prints how long the cold run took.
test-fresh:
	bash scripts/test-fresh.sh

# Formatting and clippy only.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

build:
	cargo build --workspace --locked

# The local image cortex:local, built without pulling anything (docs/image.md).
# `make image TAG=x` names it cortex:x.
image:
	bash scripts/build-image.sh $(TAG)

# The same, then three voters from it in containers (not part of `make test`).
image-smoke:
	bash scripts/build-image.sh --smoke $(TAG)

# The Helm chart: render, lint, validate, audit, smoke (what daemon/tests/chart.rs runs).
chart:
	bash scripts/check-chart.sh

# The whole chaos suite: every scenario, SEEDS seeds each (default 5), report
# in docs/chaos/ (docs/chaos.md). `.ci/run` runs only the fast subset.
chaos:
	bash scripts/chaos.sh

# Cortex against etcd and Redis on this machine, into bench/results.md (`make bench ARGS=--quick`: smoke run).
bench:
	bash scripts/bench.sh $(ARGS)

# The fuzz targets (property tests on hostile input) with many more cases
# than CI runs (256 each): `make fuzz CASES=100000`.
fuzz:
	PROPTEST_CASES=$(or $(CASES),20000) cargo nextest run --locked -p cortex-consensus -p cortex-agent -p cortex-catalog \
		-E 'test(/never_panic|parses_to_something_bounded|refused_without_allocating|refused_or_decode/)'
