# Every CI step is a local recipe too; .ci/run calls `make test`.
.PHONY: dev test lint build

# Build cortex, start the three-voter dev cluster and run the seed plan on it (Ctrl-C to stop).
dev:
	cargo run --bin cortex -- dev --demo

# Everything CI runs: formatting, lints, and the whole test suite.
test:
	bash scripts/test.sh

# Formatting and clippy only.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

build:
	cargo build --workspace --locked
