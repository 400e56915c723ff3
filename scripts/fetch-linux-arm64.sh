#!/usr/bin/env bash
# Fetch Debian's arm64 cloud kernel Image for the optional Linux boot test
# (tests/linux_boot_arm64.sh, docs/arm-virt.md). Opt-in: it enables the
# arm64 architecture in dpkg (packages are only downloaded, never
# installed) and runs apt-get update. Prints the Image's path; use it as
#   MMUSIM_LINUX_ARM64=$(scripts/fetch-linux-arm64.sh) make test
set -eu
dest="${1:-build/linux-arm64}"
mkdir -p "$dest"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "fetch-linux-arm64: adding the arm64 architecture to dpkg (download only)" >&2
  dpkg --add-architecture arm64
  apt-get update -q >&2
fi
pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || { echo "fetch-linux-arm64: no linux-image-cloud-arm64 in the package lists" >&2; exit 1; }
cd "$dest"
deb=$(ls ./*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  apt-get download "$pkg" >&2
  deb=$(ls ./*.deb | head -1)
fi
rm -rf x && dpkg-deb -x "$deb" x
img=$(ls "$PWD"/x/boot/vmlinuz-* | head -1)
# Debian's arm64 vmlinuz is a plain (uncompressed) Image; say so if not.
head -c 64 "$img" | tail -c 8 | grep -q 'ARM' || echo "fetch-linux-arm64: $img is not a plain Image" >&2
echo "$img"
