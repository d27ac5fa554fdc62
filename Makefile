# troupe: the two commands of the README, plus benchmarks and sanitizers.
#   make run    install what is missing, build, run the demo headless -> out/
#   make test   the same set-up, then the whole test suite
#   make bench  release build, Google Benchmark programs
#   make package  a Debian package (CPack) of the install: build/default/troupe_*.deb
#   make fuzz   libFuzzer targets (clang-16, ASan+UBSan), FUZZ_SECONDS each (300)
SHELL := /bin/bash
JOBS ?= 2
BUILD := build/default
TROUPE := $(BUILD)/apps/troupe
CTEST_FLAGS ?= --output-on-failure --timeout 600 -j$(JOBS)

.PHONY: all deps build run test bench package sanitize asan tsan fuzz clean

all: build

deps:
	@scripts/install-deps

build: deps
	@mkdir -p build
	@cmake --preset default -DTROUPE_WERROR=$${CI:+ON} > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(TROUPE) run config/examples/sandbox.toml --out out

test: build
	ctest --test-dir $(BUILD) $(CTEST_FLAGS)

package: build
	cd $(BUILD) && cpack -G DEB

bench: deps
	@mkdir -p build
	@cmake --preset release > build/release.configure.log 2>&1 || { cat build/release.configure.log; exit 1; }
	@cmake --build build/release -j$(JOBS) --target troupe_benchmarks
	build/release/bench/troupe_benchmarks --benchmark_counters_tabular=true

# ASan+UBSan and TSan over the sim, messages, audio, live and actors suites.
sanitize: asan tsan

asan: deps
	@mkdir -p build
	@cmake --preset dev > build/dev.configure.log 2>&1 || { cat build/dev.configure.log; exit 1; }
	@cmake --build build/dev -j$(JOBS) --target troupe_sim_tests troupe_messages_tests troupe_audio_tests troupe_live_tests troupe_actors_tests
	ctest --test-dir build/dev -L 'sim|messages|audio|live|actors' $(CTEST_FLAGS)

tsan: deps
	@mkdir -p build
	@cmake --preset tsan > build/tsan.configure.log 2>&1 || { cat build/tsan.configure.log; exit 1; }
	@cmake --build build/tsan -j$(JOBS) --target troupe_sim_tests troupe_live_tests troupe_actors_tests
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" ctest --test-dir build/tsan -L 'sim|live|actors' $(CTEST_FLAGS)

FUZZ_SECONDS ?= 300
fuzz: deps
	JOBS=$(JOBS) scripts/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build out
