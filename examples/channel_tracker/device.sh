#!/bin/sh
# device.sh [WEIGHTS] — the trained channel tracker deployed on a Cortex-M4 under QEMU (the
# README's "Channel tracking, end to end", step 4). From the repository root, once built:
#     examples/channel_tracker/device.sh     # the committed weights, tracker.safetensors
# Generates the C with the weights baked in, builds it with the flags of tests/test_cross.c
# (plus its start-up and linker script), reports flash and RAM (arm-none-eabi-size, the stack
# measured on the device), streams the first 16 test sequences of run.sh's data set one pilot
# per tracker_step call on mps2-an386 with `-icount shift=0` (one instruction, one ns of
# virtual time; SysTick counts them), and checks the predictions bit for bit against
# `rnnc run` on the host. Needs gcc-arm-none-eabi and qemu-system-arm.
set -eu
cd "$(dirname "$0")/../.."
W=${1:-examples/channel_tracker/tracker.safetensors}
S=examples/channel_tracker/tracker.yaml
D=build/channel_tracker/m4
M4="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2"
mkdir -p $D
# the same seed as run.sh's full set: the same first 16 test sequences
build/channel gen $D --train 1 --val 1 --test 16 >/dev/null
build/rnnc $S -o $D/tracker.c --weights "$W"
build/rnnc run $S --weights "$W" --input $D/test_x.npy --output $D/host_pred.npy
arm-none-eabi-gcc $M4 -std=c11 -Wall -Wextra -Wpedantic -Werror -c $D/tracker.c -o $D/tracker.o
arm-none-eabi-gcc $M4 -std=c11 -Wall -Wextra -Werror -nostartfiles -T tests/cross/m4.ld -I$D \
    tests/cross/startup.c examples/channel_tracker/m4_tracker.c $D/tracker.o -nostdlib -lgcc \
    -o $D/tracker.elf
echo "arm-none-eabi-size (Cortex-M4, $M4):"
arm-none-eabi-size $D/tracker.o $D/tracker.elf
echo "qemu-system-arm -M mps2-an386 -icount shift=0 ($(qemu-system-arm --version | head -1)):"
# the semihosting console writes to QEMU's standard error; files are opened in QEMU's cwd
(cd $D && timeout 300 qemu-system-arm -M mps2-an386 -nographic -icount shift=0 \
    -semihosting-config enable=on,target=native -kernel tracker.elf 2>&1)
build/channel compare $D/host_pred.npy $D/pred_m4.bin
