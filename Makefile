# qmig: `make demo` runs the whole pipeline on the sample export, `make test` runs every test.

CARGO ?= cargo
DEMO_DIR ?= target/demo

.PHONY: all build demo test test-long lint bench clean-demo

all: build

build:
	$(CARGO) build --workspace --bins

## The main job on the sample export: start the simulated target, transform, verify, execute,
## and print what the target holds afterwards.
demo: build
	samples/demo.sh "$(DEMO_DIR)"

## Every test of the workspace (unit, property, integration, end to end).
test:
	$(CARGO) test --workspace --all-targets --locked
	$(CARGO) test --workspace --doc --locked

## The crash-safety tests at length: the executor killed 1000 times mid-run and resumed, and 200
## journals cut at random places resumed.
test-long:
	QMIG_CRASH_KILLS=$${QMIG_CRASH_KILLS:-1000} $(CARGO) test -p qmig-execute --locked --test execute crash -- --nocapture
	QMIG_JOURNAL_CUTS=$${QMIG_JOURNAL_CUTS:-200} $(CARGO) test -p qmig-execute --locked --test execute journal_cut -- --nocapture

## rustfmt, clippy, and each program built alone (with only the qmig-schemas features it asks for).
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) check --locked -p qmig-transform
	$(CARGO) check --locked -p qmig-execute

## Speed and memory on a large synthetic subscription, then execution at the rate limits and
## its call count (release build). QMIG_BENCH=speed or QMIG_BENCH=pacing runs one part alone.
QMIG_BENCH ?= speed pacing
bench:
	$(CARGO) build --release --workspace --bins
	$(if $(filter speed,$(QMIG_BENCH)),tests/bench/run.sh)
	$(if $(filter pacing,$(QMIG_BENCH)),tests/bench/pacing.sh)

clean-demo:
	rm -rf "$(DEMO_DIR)"
