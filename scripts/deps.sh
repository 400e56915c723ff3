#!/usr/bin/env bash
# Make sure the packages mmusim builds with are installed.
# As root: installs what is missing with apt-get (running 'apt-get update' once if needed).
# Otherwise: prints the exact apt-get line to run and fails.
set -eu

# Debian package -> a file or pkg-config module that proves it is installed.
need_pkgs=()
check_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v cmake >/dev/null 2>&1 || need_pkgs+=(cmake)
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc)
command -v make >/dev/null 2>&1 || need_pkgs+=(make)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
if command -v pkg-config >/dev/null 2>&1; then
  check_pc capstone || need_pkgs+=(libcapstone-dev)
  check_pc glib-2.0 || need_pkgs+=(libglib2.0-dev)
  check_pc check || need_pkgs+=(check)
  [ -e /usr/include/libfdt.h ] || need_pkgs+=(libfdt-dev)  # the virt board's device tree (no .pc file in Debian 12)
else
  need_pkgs+=(libcapstone-dev libglib2.0-dev check libfdt-dev)
fi
# Guest test images are assembled from source at build time.
command -v nasm >/dev/null 2>&1 || need_pkgs+=(nasm)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_pkgs+=(gcc-aarch64-linux-gnu)

# Optional: peers for benchmarks and differential tests, plots. Installed
# when we can, never required.
opt_pkgs=()
if command -v pkg-config >/dev/null 2>&1 && ! pkg-config --exists unicorn 2>/dev/null; then
  opt_pkgs+=(libunicorn-dev)
fi
command -v gnuplot >/dev/null 2>&1 || opt_pkgs+=(gnuplot-nox)

if [ ${#need_pkgs[@]} -eq 0 ]; then
  # Only try optional packages once per machine, as root, quietly.
  stamp=/var/tmp/mmusim-optional-tried
  if [ ${#opt_pkgs[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ] && [ ! -e "$stamp" ]; then
    touch "$stamp" 2>/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${opt_pkgs[@]}" \
      >/dev/null 2>&1 || echo "mmusim: optional packages (${opt_pkgs[*]}) not installed; benchmarks skip those peers" >&2
  fi
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "mmusim: missing packages: ${need_pkgs[*]}" >&2
  echo "mmusim: run as root:  apt-get install -y ${need_pkgs[*]}" >&2
  exit 1
fi

echo "mmusim: installing ${need_pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi
apt-get install -y -q --no-install-recommends "${opt_pkgs[@]}" >/dev/null 2>&1 ||
  echo "mmusim: optional packages (${opt_pkgs[*]}) not installed; benchmarks skip those peers" >&2
