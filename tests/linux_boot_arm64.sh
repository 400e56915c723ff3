#!/bin/sh
# Optional guest-level test: a real Linux arm64 kernel (Debian's cloud
# Image, scripts/fetch-linux-arm64.sh) boots on the virt machine with 4
# CPUs and runs /init from an initramfs made here: a user program
# (tests/guest/arm/linux_init.c) that prints a line and powers off, which
# the kernel does through PSCI SYSTEM_OFF (exit status 0). Skipped (77)
# unless MMUSIM_LINUX_ARM64 names the Image.
# Usage: linux_boot_arm64.sh MMUSIM GIC-VERSION LINUX_INIT_ELF WORKDIR
mmusim="$1"
gic="${2:-2}"
init_elf="$3"
work="${4:-.}"
img="${MMUSIM_LINUX_ARM64:-}"
if [ -z "$img" ] || [ ! -f "$img" ]; then
  echo "skipped: set MMUSIM_LINUX_ARM64 to a Linux arm64 Image (scripts/fetch-linux-arm64.sh)"
  exit 77
fi

# An initramfs holding /init: the cpio "newc" format (Linux
# Documentation/driver-api/early-userspace/buffer-format.rst), written with
# printf so no cpio tool is needed. Each entry: "070701", 13 fields of 8 hex
# digits, the name with its NUL, padding to 4 bytes, the data, padding.
pad4() { n=$(( (4 - $1 % 4) % 4 )); [ "$n" -gt 0 ] && head -c "$n" /dev/zero; return 0; }
entry() {  # name mode file-or-empty ino
  name="$1"; mode="$2"; file="$3"; ino="$4"
  size=0; [ -n "$file" ] && size=$(wc -c < "$file")
  namesize=$(( ${#name} + 1 ))
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
    "$ino" "$mode" 0 0 1 0 "$size" 0 0 0 0 "$namesize" 0
  printf '%s\0' "$name"
  pad4 $(( 110 + namesize ))
  if [ -n "$file" ]; then cat "$file"; pad4 "$size"; fi
}
initrd="$work/linux_init_gicv$gic.cpio"
{ entry init $((0100755)) "$init_elf" 1; entry TRAILER!!! 0 "" 0; } > "$initrd"

out=$("$mmusim" run --machine virt --smp 4 --gic-version "$gic" --memory 512M \
      --kernel "$img" --initrd "$initrd" --append "console=ttyAMA0 panic=-1" --no-reboot \
      --max-insns 8000000000 --timeout 300 2>&1)
status=$?
fail=0
for want in "Booting Linux on physical CPU 0x0000000000" \
            "Machine model: mmusim virt" \
            "psci: PSCIv1.0 detected in firmware." \
            "arch_timer: cp15 timer(s) running at 62.50MHz (virt)." \
            "smp: Brought up 1 node, 4 CPUs" \
            "ttyAMA0 at MMIO 0x9000000" \
            "pci 0000:00:01.0: [6d6d:0001]" \
            "pci 0000:00:02.0: [6d6d:0002]" \
            "Run /init as init process" \
            "Hello from Linux user space on mmusim" \
            "reboot: Power down" \
            "PSCI SYSTEM_OFF"; do
  if ! printf '%s\n' "$out" | grep -qF "$want"; then
    echo "FAIL: expected \"$want\""
    fail=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "FAIL: exit status $status, want 0 (PSCI SYSTEM_OFF)"
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  printf '%s\n' "$out" | tail -40
  exit 1
fi
echo "Linux (GICv$gic, 4 CPUs) ran /init in user space and powered off"
