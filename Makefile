# moe.h — build, test, bench. Quick start: `make demo` and `make check` (one minute); `make test`: the full matrix.
# Each part keeps its rules in its own file: tests/tests.mk, bench/bench.mk, examples/examples.mk.
CC      ?= cc
CXX     ?= c++
WARN    := -Wall -Wextra -Wpedantic -Werror
OPT     ?= -O2
BUILD   ?= build
HOST_SIMD_FLAGS := -march=native

.PHONY: all demo test bench examples clean
all: examples

include examples/examples.mk
include tests/firmware/firmware.mk
include tests/tests.mk
include bench/bench.mk
include tests/fuzz/fuzz.mk
include tests/cmake/cmake.mk

$(BUILD):
	mkdir -p $(BUILD)

clean:
	rm -rf $(BUILD)
