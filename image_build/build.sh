#!/usr/bin/env bash
# One command: a flashable SD card image for a Raspberry Pi 4 (64-bit) that boots into the kiosk.
#
#   sudo image_build/build.sh            -> image_build/out/kiosk-rpi4-arm64.img (+ .sha256, manifests)
#   sudo image_build/build.sh --update-lock   also rewrites packages.lock from what was installed
#
# Runs on an x86_64 Debian 12 machine as root; no Pi, no manual steps. Inputs, all pinned:
# packages.txt + packages.lock (Debian versions), requirements-*.txt (wheels by SHA-256),
# image.conf (UUIDs, seeds, sizes), SOURCE_DATE_EPOCH (the commit's time), and the commit itself
# (KIOSK_GIT_REF, default HEAD: the image holds what was committed, never a dirty work tree).
# Two runs from clean give the same SHA-256.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${KIOSK_IMAGE_OUT:-$here/out}"
work="${KIOSK_IMAGE_WORK:-$here/work}"
update_lock=0
for arg in "$@"; do
  case "$arg" in
    --update-lock) update_lock=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
# shellcheck source=image.conf
. "$here/image.conf"
started_s=$(date +%s)
say() { printf 'build [%4ss] %s\n' "$(( $(date +%s) - started_s ))" "$*" >&2; }
die() { echo "build.sh: $*" >&2; exit 1; }

# --- the build machine ------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap in root mode, chroot, qemu-user)"
[ "$(uname -m)" = x86_64 ] || say "note: tested on x86_64 only (this is $(uname -m))"
need_pkgs=(mmdebstrap qemu-user-static binfmt-support arch-test dosfstools mtools fdisk
  e2fsprogs zstd device-tree-compiler python3-venv git)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing build tools: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
arch-test arm64 >/dev/null || die "arm64 binaries do not run here (binfmt_misc + qemu-user-static)"

# --- from clean ---------------------------------------------------------------------------------
say "clean $work"
rm -rf "$work"
mkdir -p "$work" "$out"
ref="${KIOSK_GIT_REF:-HEAD}"
commit="$(git -C "$repo" rev-parse --verify "$ref^{commit}")"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct "$commit")}"
export TZ=UTC LC_ALL=C.UTF-8
umask 022
say "commit $commit, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
mkdir -p "$work/src"
git -C "$repo" archive --format=tar "$commit" | tar -x -C "$work/src"

# --- wheels: pinned by hash; the kiosk and the two sdist-only dependencies built here ----------
# The machine's pip configuration (extra indexes, find-links, constraints) stays out of the build.
pip_host() { env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PYTHONDONTWRITEBYTECODE \
  PIP_CONFIG_FILE=/dev/null "$work/hostvenv/bin/python" -m pip --isolated \
  --disable-pip-version-check "$@"; }
say "host build venv (setuptools, wheel, pip by hash)"
python3 -m venv "$work/hostvenv"
mkdir -p "$work/wheels/host" "$work/wheels/aarch64" "$work/wheels/sdist" "$work/wheels/built"
pip_host download -q --require-hashes --no-deps --only-binary=:all: -d "$work/wheels/host" \
  -r "$here/requirements-host.txt"
pip_host install -q --no-index --require-hashes --no-deps -r "$here/requirements-host.txt" \
  --find-links "$work/wheels/host"
say "aarch64 wheels by hash"
pip_host download -q --require-hashes --no-deps --only-binary=:all: \
  --implementation cp --python-version 3.11 --abi cp311 \
  --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
  --platform manylinux_2_28_aarch64 --platform manylinux_2_34_aarch64 \
  --platform manylinux_2_36_aarch64 \
  -d "$work/wheels/aarch64" -r "$here/requirements-aarch64.txt"
cp "$here/requirements-aarch64.txt" "$work/wheels/"
pip_host download -q --require-hashes --no-deps --no-binary=:all: --no-build-isolation \
  -d "$work/wheels/sdist" \
  -r "$here/requirements-sdist.txt"
say "build wheels: sdists and the kiosk at $commit"
for sdist in "$work/wheels/sdist"/*; do
  pip_host wheel -q --no-deps --no-build-isolation --use-pep517 --no-index -w "$work/wheels/built" "$sdist"
done
pip_host wheel -q --no-deps --no-build-isolation --use-pep517 --no-index -w "$work/wheels/built" "$work/src"
export KIOSK_SRC="$work/src" KIOSK_WHEELS="$work/wheels" KIOSK_GIT_COMMIT="$commit"

# --- the arm64 Debian root ----------------------------------------------------------------------
packages="$(grep -v -E '^\s*(#|$)' "$here/packages.txt" | tr '\n' ',' | sed 's/,$//')"
say "mmdebstrap $SUITE arm64 (minbase + $packages)"
mmdebstrap --mode=root --variant=minbase --arch=arm64 --components="$COMPONENTS" \
  --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --essential-hook="$here/hooks/essential.sh \"\$1\"" \
  --customize-hook="$here/hooks/customize.sh \"\$1\"" \
  "$SUITE" "$work/root" ${KIOSK_APT_MIRROR:+"$KIOSK_APT_MIRROR"} \
  > "$work/mmdebstrap.log" 2>&1 || { tail -n 60 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
[ -f "$work/root/usr/share/kiosk-image/build-info" ] || die "mmdebstrap or a hook failed (see above)"
# mmdebstrap's reproducibility clean-up empties /etc/machine-id after the hooks: set it here.
echo "$MACHINE_ID" > "$work/root/etc/machine-id"

# --- pinned package versions --------------------------------------------------------------------
manifest="$work/root/usr/share/kiosk-image/packages.manifest"
if [ "$update_lock" -eq 1 ]; then
  { echo "# Generated by build.sh --update-lock: every package in the image with its version."
    cat "$manifest"; } > "$here/packages.lock"
  say "packages.lock rewritten ($(wc -l < "$manifest") packages)"
fi
if [ ! -f "$here/packages.lock" ]; then
  die "no packages.lock yet: run once with --update-lock and review it"
fi
if ! diff -u <(grep -v '^#' "$here/packages.lock") "$manifest" > "$work/packages.diff"; then
  cat "$work/packages.diff" >&2
  die "the archive resolved other package versions than packages.lock (diff above). Build against
a dated archive snapshot (KIOSK_APT_MIRROR), or review and run with --update-lock."
fi

# --- normalised metadata: clamp every time to SOURCE_DATE_EPOCH ----------------------------------
say "clamp times, split boot and data trees"
find "$work/root" -newermt "@$SOURCE_DATE_EPOCH" -print0 \
  | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
mv "$work/root/boot/firmware" "$work/boot" && install -d -m 0755 "$work/root/boot/firmware"
mv "$work/root/data" "$work/data" && install -d -m 0755 "$work/root/data"
touch --no-dereference --date="@$SOURCE_DATE_EPOCH" "$work/root/boot/firmware" "$work/root/data" \
  "$work/root/boot" "$work/root" "$work/data" "$work/boot"

# --- file systems without loop devices ----------------------------------------------------------
export E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH"
mib() { echo $(( $1 * 1024 * 1024 )); }
root_used_kib="$(du -s --block-size=1K "$work/root" | cut -f1)"
root_size_mib=$(( (root_used_kib * (100 + ROOT_SPARE_PCT) / 100 / 1024 + 32 + 15) / 16 * 16 ))
say "boot fs ${BOOT_SIZE_MIB} MiB (FAT32), root ${root_size_mib} MiB, data ${DATA_SIZE_MIB} MiB"

truncate -s "$(mib "$BOOT_SIZE_MIB")" "$work/boot.fs"
mkfs.vfat -F 32 -n RASPIFIRM -i "$BOOT_VOLUME_ID" --invariant "$work/boot.fs" >/dev/null
# Directories first, then files, each in sorted order: the FAT layout follows insertion order.
( cd "$work/boot"
  find . -mindepth 1 -type d | LC_ALL=C sort | while read -r d; do
    mmd -i "$work/boot.fs" "::${d#.}"; done
  find . -type f | LC_ALL=C sort | while read -r f; do
    mcopy -m -i "$work/boot.fs" "$f" "::${f#.}"; done )

make_ext4() {  # make_ext4 TREE IMAGE SIZE_MIB LABEL UUID SEED RESERVED_PCT
  local tree="$1" img="$2" size_mib="$3" label="$4" uuid="$5" seed="$6" reserved_pct="$7"
  rm -f "$img"
  mkfs.ext4 -q -t ext4 -L "$label" -U "$uuid" -E "hash_seed=$seed,root_owner=0:0" \
    -m "$reserved_pct" -J size=16 -d "$tree" "$img" "${size_mib}M"
  # mke2fs -d copies each source file's atime and ctime: clamp them (and crtime) to the epoch.
  ( cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
      p="/${p#./}"
      printf 'sif "%s" atime @%s\nsif "%s" ctime @%s\nsif "%s" crtime @%s\n' \
        "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH"
    done
    for p in / /lost+found; do
      printf 'sif "%s" atime @%s\nsif "%s" ctime @%s\nsif "%s" crtime @%s\nsif "%s" mtime @%s\n' \
        "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH" "$p" "$SOURCE_DATE_EPOCH" \
        "$p" "$SOURCE_DATE_EPOCH"
    done ) > "$work/$label.debugfs"
  debugfs -w -f "$work/$label.debugfs" "$img" >/dev/null 2>"$work/$label.debugfs.log"
  if grep -v '^debugfs ' "$work/$label.debugfs.log" | grep -q .; then
    head "$work/$label.debugfs.log" >&2; die "debugfs clamping of $label failed"
  fi
  e2fsck -fn "$img" >/dev/null || die "e2fsck found errors in $label"
}
say "root fs (ext4 from the tree)"
# Read-only root: no blocks reserved for root (nobody writes there); the data partition keeps 5 %.
make_ext4 "$work/root" "$work/root.fs" "$root_size_mib" KIOSKROOT "$ROOT_UUID" "$ROOT_HASH_SEED" 0
say "data fs (ext4: records, journal, systemd state)"
make_ext4 "$work/data" "$work/data.fs" "$DATA_SIZE_MIB" KIOSKDATA "$DATA_UUID" "$DATA_HASH_SEED" 5
fsck.vfat -n "$work/boot.fs" >/dev/null || die "fsck.vfat found errors in the boot file system"

# --- the disk: DOS label with a fixed id, partitions aligned to 4 MiB ---------------------------
say "partition table and image"
start1=$(( 4 * 2048 ))
size1=$(( BOOT_SIZE_MIB * 2048 ))
start2=$(( start1 + size1 ))
size2=$(( root_size_mib * 2048 ))
start3=$(( start2 + size2 ))
size3=$(( DATA_SIZE_MIB * 2048 ))
total_sectors=$(( start3 + size3 ))
img="$work/$IMAGE_NAME.img"
rm -f "$img"
truncate -s $(( total_sectors * 512 )) "$img"
sfdisk --quiet --no-reread --no-tell-kernel "$img" <<SFDISK
label: dos
label-id: 0x$DISK_ID
unit: sectors

start=$start1, size=$size1, type=c, bootable
start=$start2, size=$size2, type=83
start=$start3, size=$size3, type=83
SFDISK
dd if="$work/boot.fs" of="$img" bs=512 seek="$start1" conv=notrunc,sparse status=none
dd if="$work/root.fs" of="$img" bs=512 seek="$start2" conv=notrunc,sparse status=none
dd if="$work/data.fs" of="$img" bs=512 seek="$start3" conv=notrunc,sparse status=none

# --- out ------------------------------------------------------------------------------------------
rm -f "$out/$IMAGE_NAME".*
mv "$img" "$out/"
cp "$manifest" "$out/$IMAGE_NAME.packages.manifest"
cp "$work/root/usr/share/kiosk-image/python.manifest" "$out/$IMAGE_NAME.python.manifest"
cp "$work/root/usr/share/kiosk-image/build-info" "$out/$IMAGE_NAME.build-info"
( cd "$out" && sha256sum "$IMAGE_NAME.img" > "$IMAGE_NAME.img.sha256" )
elapsed_s=$(( $(date +%s) - started_s ))
size_mib=$(( $(stat -c %s "$out/$IMAGE_NAME.img") / 1024 / 1024 ))
say "done in ${elapsed_s}s: $out/$IMAGE_NAME.img, ${size_mib} MiB raw"
cat "$out/$IMAGE_NAME.img.sha256"
echo "Flash: zstd -dc ... or: dd if=$out/$IMAGE_NAME.img of=/dev/sdX bs=4M conv=fsync (see README)"
