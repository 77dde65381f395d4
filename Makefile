# Top-level driver: ./configure, then make.  See README.rst.
#
#   make            build build/qemu-system-x86_64
#   make demo       set everything up and run the demo VM (SPICE on 127.0.0.1:5930)
#   make check      set everything up and run all tests
#   make guest      build the cached test/demo guest (kernel + initramfs)
#   make agent-guest build the cached guest with Debian's spice-vdagent (root)
#   make deps       install Debian packages (root)
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

QTESTS := qxl-test qxl-guest-bug-test qxl-command-test qxl-fuzz-regress-test \
	  vdi-port-test

# Debian's firmware (seabios, qemu-system-data, ipxe-qemu); ./configure
# passes the same list to QEMU as --firmwarepath.
FIRMWARE_DIRS := /usr/share/qemu /usr/share/seabios /usr/share/ipxe/qemu

.PHONY: all deps build qtests guest agent-guest demo check stock bench fuzz fuzz-check clean distclean FORCE

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

# Stock QEMU (scripts/build-stock-qemu.sh) is the peer of the migration
# tests; qemu-img makes the qcow2 disk of the savevm test.
check: deps
	@$(MAKE) --no-print-directory qtests guest agent-guest
	$(NINJA) -C $(QEMU_BUILD) qemu-img
	@stock=$$($(TOP)/scripts/build-stock-qemu.sh) && \
	    /usr/bin/python3 $(TOP)/tests/run.py --build $(BUILD) --qtests "$(QTESTS)" \
	        --stock "$$stock"

stock:
	@$(TOP)/scripts/build-stock-qemu.sh >/dev/null

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
	@$(SAN_ENV) /usr/bin/python3 $(TOP)/tests/run.py --build $(FUZZ_BUILD) \
	    --only qtest --qtests "$(QTESTS)"; s=$$?; \
	if $(TOP)/scripts/fuzz.sh check $(FUZZ_BUILD); then \
	    echo "[fuzz] PASS"; else echo "[fuzz] FAIL"; s=1; fi; exit $$s

clean:
	-$(NINJA) -C $(QEMU_BUILD) clean

distclean:
	rm -rf $(BUILD)
