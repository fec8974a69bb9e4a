/* impl_tu.c - the implementation of moe.h in a translation unit of its own, for builds that
   compile it with other flags than the test: tests/run.sh's -ffast-math configurations build
   this file with -ffast-math and tests/test_moe.c (with -DMOE_TEST_EXTERN_IMPL, so it does not
   define MOE_IMPLEMENTATION) without it, since the test's float64 reference and its isnan /
   isfinite checks cannot run under fast-math. */
#define MOE_IMPLEMENTATION
#include "../moe.h"
