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

# The memory core's per-CPU views, then the bundled x86 guest on 4 CPUs: APs
# brought up with INIT/SIPI each print their APIC ID read at 0xfee00020, CPU 2
# relocates its APIC and proves both views, CPU 1 takes an SMI and reads SMRAM
# while CPU 0 reads the VGA window, then each CPU's TLB statistics. The guest
# reports success through the isa-debug-exit device (status 33 = (0x10<<1)|1),
# which this target turns into status 0. Then an AArch64 guest on the virt
# board with 4 CPUs: each CPU writes and reads its own GICv2 CPU interface at
# the same address 0x08010000 and its banked distributor enables, then SGIs go
# between CPUs; PSCI SYSTEM_OFF ends it with status 0.
run: build
	$(BUILD)/mmusim demo
	@if [ -x $(BUILD)/mmusim ] && [ -f $(BUILD)/tests/guest/x86/demo.bin ]; then \
	  echo; echo "== mmusim run --smp 4 --trace tlb --kernel tests/guest/x86/demo.bin =="; \
	  $(BUILD)/mmusim run --smp 4 --trace tlb --kernel $(BUILD)/tests/guest/x86/demo.bin; \
	  st=$$?; [ $$st -eq 33 ] || { echo "guest failed (status $$st)"; exit 1; }; \
	fi
	@if [ -f $(BUILD)/tests/guest/arm/gic.elf ]; then \
	  echo; echo "== mmusim run --machine virt --smp 4 --semihosting --kernel tests/guest/arm/gic.elf =="; \
	  $(BUILD)/mmusim run --machine virt --smp 4 --semihosting --kernel $(BUILD)/tests/guest/arm/gic.elf \
	    || { echo "AArch64 guest failed (status $$?)"; exit 1; }; \
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
