# Thin wrapper over meson/ninja. `make sample` and `make test` work on a fresh Debian 12 (as root).
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

.PHONY: all deps build sample test test-unit test-asan bench report clean

all: build

deps:
	@.ci/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# weir's main job on the bundled capture with the bundled queries.
sample: build
	@.ci/hugepages.sh
	$(BUILD)/app/weir run --sample --rules rules/basic.rules --out weir-sample.jsonl

# Everything: unit and integration tests (ipp_budget measures the valgrind-friendly build-ipp),
# then the unit tests under ASan+UBSan.
test: build ipp-build
	@.ci/hugepages.sh
	meson test -C $(BUILD) --print-errorlogs --num-processes 2 || true
	$(MAKE) --no-print-directory test-asan || true
	@python3 .ci/test-summary.py $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Djemalloc=false $(MESON_OPTS)

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs --num-processes 2

bench: build
	@.ci/hugepages.sh
	perf/bench-rx.sh

# Instructions per packet under callgrind (perf/ipp.sh) checked against perf/ipp-budget.txt, on
# a release build valgrind can run: -march=x86-64-v3 (valgrind 3.19 has no AVX-512). About 3 min.
IPP_BUILD ?= build-ipp
.PHONY: ipp ipp-build

$(IPP_BUILD)/build.ninja:
	meson setup $(IPP_BUILD) --buildtype=release -Dmarch=x86-64-v3 $(MESON_OPTS)

ipp-build: deps $(IPP_BUILD)/build.ninja
	ninja -C $(IPP_BUILD)

ipp: ipp-build
	perf/ipp.sh --weir $(IPP_BUILD)/app/weir --check

# The side-by-side benchmark (perf/README.md, "report"): baselines, weir stages and peers
# in one go, table + CSV + plots in perf/results/report-<time>/. Under 10 minutes on 2 cores.
# Measures the release build build-perf (made here if absent), or WEIR_BIN.
report: deps
	@[ -n "$$WEIR_BIN" ] || [ -f build-perf/build.ninja ] || meson setup build-perf --buildtype=release -Db_lto=true $(MESON_OPTS)
	@[ -n "$$WEIR_BIN" ] || ninja -C build-perf
	@.ci/hugepages.sh
	perf/report

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
