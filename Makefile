# Two commands matter: `make run` and `make test`. Each installs what is
# missing (Debian packages), builds, and then does its job.

BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Every Debian package the build, the tests, the benchmarks and the examples use.
DEBS := cmake make g++ pkg-config \
        libzmq3-dev cppzmq-dev libsodium-dev libmsgpack-cxx-dev \
        nlohmann-json3-dev libcli11-dev libspdlog-dev \
        libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev \
        clang-format

.PHONY: all deps build run test bench bench-quick sanitize format clean

all: build

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	scripts/run-examples.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	$(BUILD)/bin/uni-bench

bench-quick: build
	$(BUILD)/bin/uni-bench --quick

# AddressSanitizer + UndefinedBehaviorSanitizer build and test run.
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DUNI_SANITIZE=ON -DUNI_BUILD_BENCH=OFF >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) --timeout 900

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan
