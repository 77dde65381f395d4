# Top-level driver: ./configure, then make.  See README.rst.
#
#   make            build build/qemu-system-x86_64
#   make demo       set everything up and run the demo VM (SPICE on 127.0.0.1:5930)
#   make check      set everything up and run all tests (pytest; as any user
#                   once make deps has run: PYTEST_ARGS="-k NAME" selects)
#   make guest      build the cached test/demo guest (kernel + initramfs)
#   make agent-guest build the cached guest with Debian's spice-vdagent (root
#                   once, for its Debian base; see docs/testing.rst)
#   make deps       install Debian packages (root; as any other user it only
#                   checks that they are there)
#   make check-migration  the long migration runs (ping-pong, 100 + 20 moves)
#   make lint       checkpatch.pl over our C files, the QXL layer check
#   make stock      build stock QEMU 10.0 from the same source (the peer)
#   make bench      benchmarks, ours vs stock, printed as ratios (BENCH_QUICK=1)
#   make fuzz       the ASan+UBSan libFuzzer build (build-fuzz/), see docs/fuzzing.rst
#   make fuzz-check the sanitizer job of CI: qtests under ASan+UBSan, a short fuzz run

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(TOP)/build
QEMU_BUILD := $(BUILD)/qemu
BIN := $(BUILD)/qemu-system-x86_64
NINJA := ninja

# ccache: paths under build/ are rewritten to relative ones so that a fresh
# clone in another folder still hits the cache.
export CCACHE_BASEDIR := $(BUILD)
export CCACHE_NOHASHDIR := 1

# The qtests: one binary for each tests/qtest/*-test.c (tests/test_qtests.py
# runs the same list).
QTESTS := $(sort $(basename $(notdir $(wildcard $(TOP)/tests/qtest/*-test.c))))

# The test runner: Debian's pytest (python3-pytest, python3-pytest-timeout)
# on Debian's python3, which has gi for the SPICE client, one line a test.
# Options of ours: tests/conftest.py.  PYTEST_ARGS adds more, e.g.
# -k cmd-ring, -x, --lf.
PYTEST := /usr/bin/python3 -m pytest -v
PYTEST_ARGS ?=

# Debian's firmware (seabios, qemu-system-data, ipxe-qemu); ./configure
# passes the same list to QEMU as --firmwarepath.
FIRMWARE_DIRS := /usr/share/qemu /usr/share/seabios /usr/share/ipxe/qemu

.PHONY: all deps build qtests guest agent-guest demo check check-migration lint stock bench fuzz fuzz-check clean distclean FORCE

all: build

deps:
	@$(TOP)/scripts/install-deps.sh

# Written by ./configure.  No rule makes it: make would run that rule
# before anything else, even before "deps" installs what configure needs.
-include $(BUILD)/config.mk

ifeq ($(QEMU_SRC),)
build:
	$(TOP)/configure --build-dir $(BUILD)
	@$(MAKE) --no-print-directory build
else
build:
	@$(TOP)/scripts/overlay.sh $(QEMU_SRC) $(BUILD)/overlay
	$(NINJA) -C $(QEMU_BUILD) qemu-system-x86_64
	@# No stock SPICE file may be compiled (issue 9): ours replace them all.
	@/usr/bin/python3 $(TOP)/scripts/check-no-stock-spice.py $(QEMU_BUILD) || \
	    { rm -f $(BIN); exit 1; }
	@ln -sfn qemu/qemu-system-x86_64 $(BIN)
	@# A binary run from its build tree looks for the configured firmware
	@# path under qemu-bundle/: point that at Debian's firmware.
	@for d in $(FIRMWARE_DIRS); do \
	    mkdir -p $(QEMU_BUILD)/qemu-bundle$$(dirname $$d); \
	    ln -sfn $$d $(QEMU_BUILD)/qemu-bundle$$d; \
	done
endif

qtests: build
	$(if $(QTESTS),$(NINJA) -C $(QEMU_BUILD) $(addprefix tests/qtest/,$(QTESTS)))

guest:
	@$(TOP)/scripts/build-guest.sh $(BUILD)/guest

agent-guest:
	@$(TOP)/scripts/build-agent-guest.sh $(BUILD)/agent-guest

demo: deps
	@$(MAKE) --no-print-directory build guest
	@$(TOP)/scripts/demo.sh

# Stock QEMU (scripts/build-stock-qemu.sh, or STOCK_QEMU=BINARY; a binary
# that is not there, e.g. STOCK_QEMU=none, skips its tests) is the peer of
# the migration tests; qemu-img makes the qcow2 disk of the savevm test.
# pytest's last line is the summary (N passed, N failed, N skipped...);
# logs of each test are in build/test-logs/<test>/.
STOCK_QEMU ?=
STOCK = $(or $(STOCK_QEMU),$$($(TOP)/scripts/build-stock-qemu.sh))

check: deps
	@$(MAKE) --no-print-directory qtests guest agent-guest lint
	$(NINJA) -C $(QEMU_BUILD) qemu-img
	@stock=$(STOCK) && \
	    $(PYTEST) $(TOP)/tests --build-dir $(BUILD) --stock "$$stock" \
	        --junitxml=$(BUILD)/test-logs/junit.xml $(PYTEST_ARGS)

# The long migration runs: 100 moves ours <-> ours, 20 ours <-> stock, a
# client following the guest (tests/integration/test_migration_follow.py).
# Those tests are marked long: pytest runs them only with --long.
check-migration: deps
	@$(MAKE) --no-print-directory build guest
	@stock=$(STOCK) && \
	    $(PYTEST) $(TOP)/tests/integration/test_migration_follow.py \
	        --build-dir $(BUILD) --stock "$$stock" --long -m long \
	        --junitxml=$(BUILD)/test-logs/junit-migration.xml $(PYTEST_ARGS)

stock:
	@$(TOP)/scripts/build-stock-qemu.sh >/dev/null

# QEMU's checkpatch.pl over our C files; the QXL layers go one way.
lint:
	@$(TOP)/scripts/lint.sh $(BUILD)

# Benchmarks, not tests: ours and stock alternately, one table (also
# build/bench/bench.json, bench.rst and bench.png).  BENCH_QUICK=1: one round
# each (about 6 minutes instead of 20); BENCH_ONLY=P1,P3: some parts only.
bench: deps
	@$(MAKE) --no-print-directory build guest
	$(NINJA) -C $(QEMU_BUILD) tests/qtest/spice-stack/qxl-bench
	@/usr/bin/python3 $(TOP)/scripts/bench.py --ours $(BIN) \
	    --stock "$$($(TOP)/scripts/build-stock-qemu.sh)" \
	    --bench $(QEMU_BUILD)/tests/qtest/spice-stack/qxl-bench \
	    --guest $(BUILD)/guest --logdir $(BUILD)/bench/logs \
	    --json $(BUILD)/bench/bench.json --rst $(BUILD)/bench/bench.rst \
	    --plot $(BUILD)/bench/bench.png

# The fuzzing build: clang 14, libFuzzer, ASan and UBSan.  A build dir
# configured by ./configure --enable-fuzzing is used as it is; otherwise
# build-fuzz/ is configured for it, beside the ordinary build.
ifeq ($(FUZZING),1)
FUZZ_BUILD := $(BUILD)
else
FUZZ_BUILD := $(TOP)/build-fuzz
endif

fuzz:
	@test -f $(FUZZ_BUILD)/config.mk || \
	    $(TOP)/configure --build-dir $(FUZZ_BUILD) --enable-fuzzing
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) build
	CCACHE_BASEDIR=$(FUZZ_BUILD) $(NINJA) -C $(FUZZ_BUILD)/qemu qemu-fuzz-x86_64
	@ln -sfn qemu/qemu-fuzz-x86_64 $(FUZZ_BUILD)/qemu-fuzz-x86_64

# CI's sanitizer job: every qtest against the ASan + UBSan build, then a
# short fuzzing run (the seed corpus replayed, FUZZ_SECONDS of exploring).
SAN_ENV := ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

fuzz-check: fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) qtests
	@$(SAN_ENV) $(PYTEST) $(TOP)/tests/test_qtests.py --build-dir $(FUZZ_BUILD) \
	    --junitxml=$(FUZZ_BUILD)/test-logs/junit.xml $(PYTEST_ARGS); s=$$?; \
	if $(TOP)/scripts/fuzz.sh check $(FUZZ_BUILD); then \
	    echo "[fuzz] PASS"; else echo "[fuzz] FAIL"; s=1; fi; exit $$s

clean:
	-$(NINJA) -C $(QEMU_BUILD) clean

distclean:
	rm -rf $(BUILD)
