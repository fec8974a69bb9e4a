/* tu2.c - a second translation unit that includes moe.h twice without MOE_IMPLEMENTATION.
   Linked with test_moe.c (built with -DMOE_TEST_TU2) it checks that the declarations stand on
   their own, the include guard works, and the one implementation links once. */
#include "../moe.h"
#include "../moe.h"

const char *moe_test_tu2_simd_name(void);
const char *moe_test_tu2_simd_name(void) { return moe_simd_name(); }
