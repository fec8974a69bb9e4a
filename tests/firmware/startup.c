/* startup.c - the least a Cortex-M (v6-M, v7-M, v8-M, v8.1-M) needs to run tests/firmware/fw.c
   bare-metal: a vector table, a reset handler that enables the FPU (and MVE), copies .data,
   zeroes .bss and calls main, fault handlers that report and exit, and Arm semihosting output
   and exit (bkpt 0xab). The memory layout comes from the board's linker script (mps2.ld,
   an505.ld, an547.ld, all including sections.ld). No newlib start files, no stdio, no heap. */
#include <stdint.h>

void fw_write(const char *s);
void fw_exit(int status);
int main(void);
void fw_reset(void);
void fw_fault(void);

/* from the linker script */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

/* Arm semihosting: operation in r0, argument in r1, result in r0 (Thumb: bkpt 0xab). */
static int fw_semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04
#define SYS_EXIT   0x18
#define ADP_Stopped_ApplicationExit     0x20026u   /* qemu exits with status 0 */
#define ADP_Stopped_RunTimeErrorUnknown 0x20023u   /* qemu exits with status 1 */

void fw_write(const char *s) { (void)fw_semihost(SYS_WRITE0, s); }

/* 32-bit SYS_EXIT takes the reason itself, not a block: "application exit" is success and
   every other reason a failure, which qemu turns into exit status 0 or 1. */
void fw_exit(int status)
{
    (void)fw_semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_Stopped_ApplicationExit
                                                                      : ADP_Stopped_RunTimeErrorUnknown));
    for (;;) { }   /* no debugger attached: nothing to return to */
}

void fw_fault(void)
{
    fw_write("FAIL: fault exception\n");
    fw_exit(3);
}

void fw_reset(void)
{
    uint32_t *src, *dst;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR: full access to CP10 and CP11 (the FPU, and MVE on v8.1-M) before any FP code */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (src = __data_load, dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    fw_exit(main());
}

/* Initial stack pointer, reset, then NMI, HardFault, MemManage, BusFault, UsageFault and
   SecureFault (v8-M); the rest (SVC, PendSV, SysTick, interrupts) is never enabled here. */
typedef void (*fw_vector)(void);
typedef union { uint32_t *sp; fw_vector fn; } fw_entry;
__attribute__((section(".vectors"), used))
const fw_entry fw_vectors[16] = {
    { .sp = __stack_top }, { .fn = fw_reset },
    { .fn = fw_fault }, { .fn = fw_fault }, { .fn = fw_fault }, { .fn = fw_fault },
    { .fn = fw_fault }, { .fn = fw_fault },
};
