#!/bin/sh
# Optional guest-level test: a real Linux arm64 kernel (Debian's cloud
# Image, scripts/fetch-linux-arm64.sh) boots on the virt machine with 4
# CPUs up to the point where it looks for a root file system, which there
# is none of: it panics and, with panic=-1, asks PSCI for a reset, which
# --no-reboot turns into exit status 12. Skipped (77) unless
# MMUSIM_LINUX_ARM64 names the Image. Usage: linux_boot_arm64.sh MMUSIM GIC
mmusim="$1"
gic="${2:-2}"
img="${MMUSIM_LINUX_ARM64:-}"
if [ -z "$img" ] || [ ! -f "$img" ]; then
  echo "skipped: set MMUSIM_LINUX_ARM64 to a Linux arm64 Image (scripts/fetch-linux-arm64.sh)"
  exit 77
fi
out=$("$mmusim" run --machine virt --smp 4 --gic-version "$gic" --memory 512M \
      --kernel "$img" --append "console=ttyAMA0 panic=-1" --no-reboot \
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
            "VFS: Unable to mount root fs" \
            "PSCI SYSTEM_RESET"; do
  if ! printf '%s\n' "$out" | grep -qF "$want"; then
    echo "FAIL: expected \"$want\""
    fail=1
  fi
done
if [ "$status" -ne 12 ]; then
  echo "FAIL: exit status $status, want 12 (SYSTEM_RESET with --no-reboot)"
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  printf '%s\n' "$out" | tail -40
  exit 1
fi
echo "Linux booted on $(printf '%s\n' "$out" | grep -c 'Booted secondary processor') secondary CPUs + CPU 0 (GICv$gic) and reached the root mount"
