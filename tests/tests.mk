# tests/tests.mk - included by the top Makefile (CC, CXX, WARN, OPT, BUILD, HOST_SIMD_FLAGS).
#   make check         the quick check, about a minute: one -march=native build (also compared
#                      with the scalar path) run with --quick, the runtime-dispatch build
#                      (-DMOE_DISPATCH) against the static build of each path (tests/test_dispatch.c
#                      --quick), and the README's usage snippet compiled as C99 and C++11; last
#                      line "N passed, N failed"
#   make test          the whole matrix (tests/run.sh, ~27 minutes on 2 cores): SIMD paths,
#                      gcc/clang/g++/clang++/tcc, C99/C11/C++11/C++17/C++20, -O3 (with compile
#                      times), -O3 -flto, -ffast-math, OpenMP, ASan+UBSan, valgrind, qemu
#                      AArch64/ARMv7/RISC-V 64/s390x (big-endian), i386 (-m32), MinGW-w64 under
#                      wine, Cortex-M, runtime dispatch (the dispatch-* configurations), the
#                      README snippet; each configuration's line is printed as it finishes, the
#                      last line is "N passed, N failed[, N skipped]"
#   make test-native   one build with $(CC) for this machine, run in full
#   TEST_ONLY=regex    run only the matrix entries whose names match, e.g. TEST_ONLY=avx2 or
#                      TEST_ONLY=dispatch
.PHONY: check test test-native

check:
	BUILD=$(BUILD) CC="$(CC)" CXX="$(CXX)" bash tests/run.sh --check

test:
	BUILD=$(BUILD) bash tests/run.sh

test-native: | $(BUILD)
	mkdir -p $(BUILD)/tests
	$(CC) -std=c99 $(WARN) $(OPT) $(HOST_SIMD_FLAGS) tests/test_moe.c -o $(BUILD)/tests/test_moe -lm -pthread
	$(BUILD)/tests/test_moe
