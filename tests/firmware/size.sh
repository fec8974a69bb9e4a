#!/bin/sh
# tests/firmware/size.sh DIR CPU... - the firmware size table (Markdown) of `make firmware-size`:
# for each core, .text/.data/.bss (arm-none-eabi-size, Berkeley format: .text includes
# .rodata and the vector table) of the whole firmware DIR/CPU/fw.elf, of the moe.h code in it
# (the sizes of its moe* symbols after --gc-sections, so only what the layer uses), and of
# moe.h's object alone (DIR/CPU/moe.o: the whole implementation, before the linker drops
# anything). ARM_SIZE and ARM_NM override the tools.
set -eu
ARM_SIZE=${ARM_SIZE:-arm-none-eabi-size}
ARM_NM=${ARM_NM:-arm-none-eabi-nm}
dir=$1; shift

flags() {   # the -mcpu/-mfpu line the build recorded
    sed -e 's/-mthumb //' -e 's/ *$//' "$dir/$1/cpu_flags"
}
size3() {   # text data bss of an ELF or object
    "$ARM_SIZE" -B "$1" | awk 'NR == 2 { print $1, $2, $3 }'
}
moe_linked() {   # text(+rodata) data bss of the moe* symbols in an ELF
    "$ARM_NM" -S "$1" | awk '
        NF == 4 && $4 ~ /^moe/ {
            n = 0; s = $2
            for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(tolower(s), i, 1)) - 1
            t = tolower($3)
            if (t == "t" || t == "r") text += n; else if (t == "d") data += n; else if (t == "b") bss += n
        }
        END { printf "%d %d %d\n", text, data, bss }'
}

echo "| core | flags | firmware .text | .data | .bss | moe.h in it: .text | .data | .bss | moe.h object alone: .text | .data | .bss |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for cpu in "$@"; do
    # shellcheck disable=SC2046 # the three numbers of each are meant to split
    set -- $(size3 "$dir/$cpu/fw.elf") $(moe_linked "$dir/$cpu/fw.elf") $(size3 "$dir/$cpu/moe.o")
    echo "| $cpu | \`$(flags "$cpu")\` | $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $9 |"
done
