# tests/firmware/firmware.mk - included by the top Makefile (which sets CC, WARN, BUILD):
# examples/noheap.c as firmware that runs, on qemu-system-arm's Cortex-M boards.
#   make firmware-run    build tests/firmware/fw.c (noheap.c's layer, output through semihosting)
#                        for each core in FWT_CPUS, run it on its board and compare what it
#                        prints with the same program built for this machine: PASS/FAIL per
#                        board (tests/firmware/run.sh says how they are compared)
#   make firmware-size   the .text/.data/.bss table of those firmware images and of moe.h
#   FWT_CPUS="m4 m55"    only some cores;  FWT_DEFS=-DNOHEAP_Q8_0   Q8_0 experts instead of Q4_0
# Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and (to run) qemu-system-arm.
#
# The arena: fw.c's static arena has exactly the bytes moe_workspace_size() asks for this layer.
# The host build of fw.c (scalar kernels, like every Cortex-M) prints that figure; on the host
# size_t is 8 bytes, which makes it an upper bound of the 32-bit one (the firmware prints both).
#
# Cores and boards (M0 has no qemu board with RAM enough: its v6-M, soft-float image runs on
# the Cortex-M3 of mps2-an385, which executes v6-M code unchanged):
#   m0   cortex-m0plus, soft float        mps2-an385   tests/firmware/mps2.ld
#   m4   cortex-m4, fpv4-sp-d16 hard      mps2-an386   tests/firmware/mps2.ld
#   m7   cortex-m7, fpv5-d16 hard         mps2-an500   tests/firmware/mps2.ld
#   m33  cortex-m33, fpv5-sp-d16 hard     mps2-an505   tests/firmware/an505.ld
#   m55  cortex-m55 (FPU + MVE), hard     mps3-an547   tests/firmware/an547.ld

ARM_CC      ?= arm-none-eabi-gcc
ARM_SIZE    ?= arm-none-eabi-size
ARM_NM      ?= arm-none-eabi-nm
QEMU_ARM    ?= qemu-system-arm
FWT_DIR     := $(BUILD)/firmware
FWT_CPUS    ?= m0 m4 m7 m33 m55
FWT_DEFS    ?=
FWT_CFLAGS  := -std=c99 $(WARN) -O2 -ffp-contract=off $(FWT_DEFS)
FWT_ARM     := -mthumb -ffunction-sections -fdata-sections -DFW_SEMIHOSTING -I.
FWT_LDFLAGS := --specs=nosys.specs -nostartfiles -Wl,--gc-sections -Ltests/firmware
FWT_SRC     := tests/firmware/fw.c tests/firmware/startup.c
FWT_DEPS    := $(FWT_SRC) examples/noheap.c moe.h tests/firmware/sections.ld \
               tests/firmware/mps2.ld tests/firmware/an505.ld tests/firmware/an547.ld

FWT_CPU_m0  := -mcpu=cortex-m0plus -mfloat-abi=soft
FWT_CPU_m4  := -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
FWT_CPU_m7  := -mcpu=cortex-m7 -mfloat-abi=hard -mfpu=fpv5-d16
FWT_CPU_m33 := -mcpu=cortex-m33 -mfloat-abi=hard -mfpu=fpv5-sp-d16
FWT_CPU_m55 := -mcpu=cortex-m55 -mfloat-abi=hard
FWT_BOARD_m0  := mps2-an385
FWT_BOARD_m4  := mps2-an386
FWT_BOARD_m7  := mps2-an500
FWT_BOARD_m33 := mps2-an505
FWT_BOARD_m55 := mps3-an547
FWT_LD_m0   := mps2.ld
FWT_LD_m4   := mps2.ld
FWT_LD_m7   := mps2.ld
FWT_LD_m33  := an505.ld
FWT_LD_m55  := an547.ld

FWT_HOST    := $(FWT_DIR)/host/fw
FWT_ARENA   := $(FWT_DIR)/arena_bytes
FWT_ELFS    := $(foreach c,$(FWT_CPUS),$(FWT_DIR)/$(c)/fw.elf)
FWT_OBJS    := $(foreach c,$(FWT_CPUS),$(FWT_DIR)/$(c)/moe.o)

.PHONY: firmware-run firmware-size firmware-elfs

firmware-run: $(FWT_HOST) $(FWT_ELFS)
	@tests/firmware/run.sh $(FWT_DIR) $(foreach c,$(FWT_CPUS),$(c):$(FWT_BOARD_$(c)))

firmware-size: $(FWT_ELFS) $(FWT_OBJS)
	@tests/firmware/size.sh $(FWT_DIR) $(FWT_CPUS)

firmware-elfs: $(FWT_ELFS)

# The host build: the reference output, the judge (--compare) and the arena size (--workspace).
$(FWT_HOST): tests/firmware/fw.c examples/noheap.c moe.h
	@mkdir -p $(@D)
	$(CC) $(FWT_CFLAGS) -DMOE_SIMD_SCALAR -I. -o $@ tests/firmware/fw.c -lm

$(FWT_ARENA): $(FWT_HOST)
	$(FWT_HOST) --workspace > $@.tmp && mv $@.tmp $@

$(FWT_DIR)/%/fw.elf: $(FWT_DEPS) $(FWT_ARENA)
	@command -v $(ARM_CC) >/dev/null 2>&1 || { \
	    echo "firmware: $(ARM_CC) not found. On Debian/Ubuntu:" >&2; \
	    echo "    sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2; exit 1; }
	@test -n "$(FWT_CPU_$*)" || { echo "firmware: unknown core '$*' (FWT_CPUS: m0 m4 m7 m33 m55)" >&2; exit 1; }
	@mkdir -p $(@D)
	@echo "$(FWT_CPU_$*)" > $(@D)/cpu_flags
	$(ARM_CC) $(FWT_CPU_$*) $(FWT_ARM) $(FWT_CFLAGS) -DARENA_BYTES=$$(cat $(FWT_ARENA)) -o $@ \
	    $(FWT_SRC) $(FWT_LDFLAGS) -T $(FWT_LD_$*) -Wl,-Map=$(@D)/fw.map -lm
	@if $(ARM_NM) $@ | grep -Ew '_?malloc(_r)?|_?free(_r)?|_?printf(_r)?|fputs|fwrite'; then \
	    echo "firmware: heap or stdio linked into $@" >&2; rm -f $@; exit 1; fi

# moe.h's implementation alone, as the firmware compiles it, for the size table
$(FWT_DIR)/%/moe.o: tests/impl_tu.c moe.h
	@test -n "$(FWT_CPU_$*)" || { echo "firmware: unknown core '$*'" >&2; exit 1; }
	@mkdir -p $(@D)
	$(ARM_CC) $(FWT_CPU_$*) $(FWT_ARM) $(FWT_CFLAGS) -c -o $@ tests/impl_tu.c
