#!/bin/sh
# quant_table.sh — the README's table of deployed sizes: every spec in specs/ with its
# bundled weights (examples/<spec>/), float and each quantised mode (calibrated on
# examples/<spec>/x.npy), built for a Cortex-M4 as tests/test_cross.c does
# (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -c);
# text is code, weights and tables (arm-none-eabi-size), RAM the state plus the work area
# of <name>_forward from the header (<NAME>_STATE_BYTES + <NAME>_WORK_BYTES).
# Usage, from the repository root after building: tools/quant_table.sh [RNNC_BIN]
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/rnnc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
m4="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -std=c11"
printf '%-16s %-13s %9s %9s %9s %9s\n' spec mode text state work "text/float"
for spec in specs/*.yaml; do
    stem=$(basename "$spec" .yaml)
    calib="--calib examples/$stem/x.npy"
    [ -f "examples/$stem/lengths.npy" ] && calib="$calib --calib-lengths examples/$stem/lengths.npy"
    float_text=
    for mode in float int8-weights int8 int16; do
        if [ $mode = float ]; then opts=; else opts="--quantize $mode $calib"; fi
        # shellcheck disable=SC2086
        "$bin" "$spec" -o "$dir/m.c" --weights "examples/$stem/weights.safetensors" $opts
        arm-none-eabi-gcc $m4 -c "$dir/m.c" -o "$dir/m.o"
        text=$(arm-none-eabi-size "$dir/m.o" | awk 'NR == 2 { print $1 }')
        state=$(awk '/_STATE_BYTES/ { print $3 }' "$dir/m.h")
        work=$(awk '/_WORK_BYTES/ { print $3 }' "$dir/m.h")
        [ -n "$float_text" ] || float_text=$text
        printf '%-16s %-13s %9s %9s %9s %8d%%\n' "$stem" "$mode" "$text" "$state" "$work" \
            $((100 * text / float_text))
    done
done
