# tests/tests.mk - included by the top Makefile (CC, CXX, WARN, OPT, BUILD, HOST_SIMD_FLAGS).
#   make test          the whole matrix (tests/run.sh): SIMD paths, gcc/clang/g++/clang++,
#                      C99/C11/C++11, OpenMP, ASan+UBSan, valgrind, qemu AArch64/ARMv7, Cortex-M;
#                      its last line is "N passed, N failed[, N skipped]"
#   make test-native   one quick build with $(CC) for this machine, run in full
#   TEST_ONLY=regex    run only the matrix entries whose names match, e.g. TEST_ONLY=avx2
.PHONY: test test-native

test:
	BUILD=$(BUILD) bash tests/run.sh

test-native: | $(BUILD)
	mkdir -p $(BUILD)/tests
	$(CC) -std=c99 $(WARN) $(OPT) $(HOST_SIMD_FLAGS) tests/test_moe.c -o $(BUILD)/tests/test_moe -lm -pthread
	$(BUILD)/tests/test_moe
