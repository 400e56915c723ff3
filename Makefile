# Thin wrapper: CMake does the real work. See README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test test-asan bench clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The memory core's per-CPU views, then a real guest: four x86 CPUs brought
# up with INIT/SIPI, each reading its own APIC ID at the same physical address
# (debug-exit status 33 is the guest's "all good").
run: build
	$(BUILD)/mmusim demo
	@if [ -x $(BUILD)/mmusim ] && [ -f $(BUILD)/tests/guest/x86/apic_ids.bin ]; then \
	  echo; echo "== mmusim run --smp 4 --kernel tests/guest/x86/apic_ids.bin =="; \
	  $(BUILD)/mmusim run --smp 4 --kernel $(BUILD)/tests/guest/x86/apic_ids.bin; \
	  st=$$?; [ $$st -eq 33 ] || { echo "guest failed (status $$st)"; exit 1; }; \
	fi

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMMUSIM_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bench/dispatch-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
