# tests/cmake/cmake.mk - included by the top Makefile (CC).
#   make cmake-check   build and run tests/cmake/consumer/ against this tree each way: CMake
#                      add_subdirectory, FetchContent, the top-level build (examples),
#                      cmake --install + find_package, pkg-config (also with MOE_OPENMP=ON);
#                      one PASS/FAIL line each, ~30 s. Needs cmake, pkg-config, git.
.PHONY: cmake-check

cmake-check:
	CC="$(CC)" bash tests/cmake/run.sh
