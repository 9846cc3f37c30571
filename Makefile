# Two commands matter: `make run` and `make test`. Each installs what is
# missing (Debian packages), builds, and then does its job.

BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages, per command: `make run` installs what the build of uni
# and its examples needs and the README's tour uses (nc, from
# netcat-openbsd); `make test` adds what only the tests and benchmarks use
# (gtest, benchmark, nats-server, headless Chromium for the dashboard's
# test, ...). `make deps` installs them all.
DEBS_RUN := cmake make g++ pkg-config \
        libzmq3-dev cppzmq-dev libsodium-dev libmsgpack-cxx-dev \
        nlohmann-json3-dev libcli11-dev libspdlog-dev libnats-dev \
        libseccomp-dev netcat-openbsd
# The HTTP client of the dashboard tests and benchmarks is cpp-httplib (the
# manager serves HTTP itself); the dashboard's test runs in headless Chromium
# driven through chromedriver.
DEBS_TEST := libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev \
        clang-format python3 python3-zmq python3-msgpack python3-nacl \
        nats-server openssl libcpp-httplib-dev chromium chromium-driver python3-selenium
DEBS := $(DEBS_RUN) $(DEBS_TEST)
# `make fuzz` only: clang and its libFuzzer runtime.
FUZZ_DEBS := clang libclang-rt-14-dev

.PHONY: all deps deps-run deps-test fuzz-deps build run test check install bench bench-quick bench-nats \
        sanitize fuzz format clean

all: build

# Installs the Debian packages of $(1) that are missing.
install_missing = missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps: deps-test

# deps-run: the build and the examples; deps-test: everything.
deps-run:
	@$(call install_missing,$(DEBS_RUN))
deps-test:
	@$(call install_missing,$(DEBS))

fuzz-deps: deps-run
	@$(call install_missing,$(FUZZ_DEBS))

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DUNI_BUILD_TESTS=ON -DUNI_BUILD_BENCH=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Only uni and the examples: no test, no benchmark.
run: deps-run
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DUNI_BUILD_TESTS=OFF -DUNI_BUILD_BENCH=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target uni factorial factorial_boss echo echo_boss
	scripts/run-examples.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The fast check of a change: the unit tier and the smoke tier (one test of
# each main path of the behaviour suite, on both brokers), in under two
# minutes after a build. `make test` runs everything; CI runs that.
check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300 -L 'unit|smoke'

# The uni binary, include/uni, libuni-client.so, the CMake package and uni.pc
# under PREFIX (docs/install.md). sudo only where PREFIX is not writable;
# ldconfig so that programs find libuni-client.so in a system library dir.
PREFIX ?= /usr/local
install: build
	@dir="$(PREFIX)"; while [ ! -d "$$dir" ]; do dir=$$(dirname "$$dir"); done; \
	if [ -w "$$dir" ]; then sudo=; else sudo="$(SUDO)"; fi; \
	$$sudo cmake --install $(BUILD) --prefix "$(PREFIX)" && \
	case "$(PREFIX)" in /usr|/usr/local) $$sudo ldconfig ;; esac

bench: build
	$(BUILD)/bin/uni-bench

bench-quick: build
	$(BUILD)/bin/uni-bench --quick

# JetStream publish+fetch throughput by tasks per message (docs/scale-out.md).
bench-nats: build
	$(BUILD)/bin/uni-nats-bench

# AddressSanitizer + UndefinedBehaviorSanitizer build and test run.
# UBSan aborts at its first finding (-fno-sanitize-recover=undefined in
# CMakeLists.txt; halt_on_error here too). The tests start managers, workers
# and executors whose stderr lives in temp dirs that are deleted, so ASan and
# LSan reports of every process go to $(SAN_LOGS) (log_path) and fail the run,
# except crashes in tests/fault/faults.cpp, which are on purpose (a worker
# with --isolation thread runs segfault() in-process);
# UBSan (GCC's libubsan ignores log_path) and anything else printed into the
# test log is caught by the grep.
SAN_LOGS := $(CURDIR)/build-asan/sanitizer-logs
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DUNI_SANITIZE=ON -DUNI_BUILD_BENCH=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	cd build-asan || exit 1; rc=0; \
	  ASAN_OPTIONS=detect_leaks=1:log_path=$(SAN_LOGS)/asan \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    ctest --output-on-failure -j $(JOBS) --timeout 900 || rc=1; \
	  for f in $(SAN_LOGS)/*; do \
	    [ -e "$$f" ] || continue; \
	    if grep -q 'SUMMARY: AddressSanitizer: .*/tests/fault/faults\.cpp' "$$f"; then continue; fi; \
	    cat "$$f"; echo "make sanitize: sanitizer report $$f"; rc=1; \
	  done; \
	  if grep -E 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)' Testing/Temporary/LastTest.log; then \
	    echo "make sanitize: sanitizer reports in build-asan/Testing/Temporary/LastTest.log"; rc=1; fi; \
	  exit $$rc

# libFuzzer targets (tests/fuzz) built with clang, ASan and UBSan, each run for
# FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus); a crash fails the run
# and leaves its input in $(FUZZ_BUILD)/fuzz-artifacts (scripts/fuzz.sh).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: fuzz-deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DUNI_FUZZ=ON -DUNI_BUILD_TESTS=OFF -DUNI_BUILD_BENCH=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target uni_fuzzers
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
