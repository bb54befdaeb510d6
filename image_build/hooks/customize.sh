#!/usr/bin/env bash
# mmdebstrap --customize-hook: everything that makes the Debian root the kiosk's. Runs on the host
# with the arm64 root in $1 (its programs run under qemu-user-static through binfmt_misc).
# Inputs come from build.sh's environment: KIOSK_SRC (the exported commit), KIOSK_WHEELS,
# KIOSK_GIT_COMMIT, SOURCE_DATE_EPOCH.
set -euo pipefail
root="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../image.conf
. "$here/image.conf"
: "${KIOSK_SRC:?}" "${KIOSK_WHEELS:?}" "${KIOSK_GIT_COMMIT:?}" "${SOURCE_DATE_EPOCH:?}"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
  SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" PYTHONHASHSEED=0 "$@"; }
say() { echo "customize: $*" >&2; }

# --- boot: root by PARTUUID, serial console only (the panel's tty1 stays the kiosk's) ----------
say "raspi-firmware: ROOTPART, consoles, config.txt, cmdline.txt"
sed -i -E \
  -e "s|^#?ROOTPART=.*|ROOTPART=PARTUUID=${DISK_ID}-02|" \
  -e 's|^#?CONSOLES=.*|CONSOLES="ttyS1,115200"|' \
  "$root/etc/default/raspi-firmware"
grep -q "^ROOTPART=PARTUUID=${DISK_ID}-02" "$root/etc/default/raspi-firmware"
kernel_versions=("$root"/lib/modules/*)
[ "${#kernel_versions[@]}" -eq 1 ] || { say "expected one kernel, found ${kernel_versions[*]}"; exit 1; }
kernel_version="$(basename "${kernel_versions[0]}")"
in_root env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware "$kernel_version"
mkdir -p "$root/boot/firmware/overlays"
dtc -q -I dts -O dtb -o "$root/boot/firmware/overlays/kiosk-i2c1-400k.dtbo" \
  "$here/boot/kiosk-i2c1-400k.dts"
# The overlay must apply to the device tree the firmware will load, or the Pi would not boot.
fdtoverlay -i "$root/boot/firmware/bcm2711-rpi-4-b.dtb" -o /dev/null \
  "$root/boot/firmware/overlays/kiosk-i2c1-400k.dtbo"

# --- kernel modules: drop the families a Pi 4 kiosk never loads ----------------------------------
# The initramfs is already built (with its own short list). Modules that need a removed one go
# too; the build stops if that would take one the device needs (modules-keep.txt).
say "prune kernel modules"
moddir="$root/usr/lib/modules/$kernel_version"
python3 "$here/hooks/prune_modules.py" "$moddir" "$here/modules-prune.txt" "$here/modules-keep.txt"
find "$moddir/kernel" -depth -type d -empty -delete
in_root depmod -a "$kernel_version"

# --- identity and mounts ---------------------------------------------------------------------
say "hostname, machine-id, fstab (read-only root, data partition)"
echo "$HOSTNAME" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
  "$HOSTNAME" > "$root/etc/hosts"
rm -f "$root/etc/resolv.conf"
cat > "$root/etc/fstab" <<FSTAB
# Galvanic kiosk (image_build): the root file system is read-only; records, the journal and
# systemd's own state live on the data partition, bound into place.
PARTUUID=${DISK_ID}-02  /               ext4   ro,noatime,errors=remount-ro                   0 1
PARTUUID=${DISK_ID}-01  /boot/firmware  vfat   ro,noatime,umask=0022,nofail                   0 0
PARTUUID=${DISK_ID}-03  /data           ext4   rw,noatime,nosuid,nodev,noexec,errors=remount-ro  0 2
/data/kiosk             /var/lib/kiosk     none  bind,x-systemd.requires-mounts-for=/data   0 0
/data/kiosk-ui          /var/lib/kiosk-ui  none  bind,x-systemd.requires-mounts-for=/data   0 0
/data/journal           /var/log/journal   none  bind,x-systemd.requires-mounts-for=/data   0 0
/data/systemd           /var/lib/systemd   none  bind,x-systemd.requires-mounts-for=/data   0 0
tmpfs                   /tmp               tmpfs mode=1777,nosuid,nodev,size=64M             0 0
tmpfs                   /var/tmp           tmpfs mode=1777,nosuid,nodev,size=32M             0 0
FSTAB

# --- systemd: units, drop-ins, the service accounts -------------------------------------------
say "systemd units, drop-ins, sysusers, udev rules"
src_systemd="$KIOSK_SRC/systemd"
install -m 0644 "$src_systemd/kiosk-control.service" "$src_systemd/kiosk-ui.service" \
  "$src_systemd/kiosk-fault.service" "$root/usr/lib/systemd/system/"
install -D -m 0644 "$src_systemd/system.conf.d/50-kiosk-watchdog.conf" \
  "$root/etc/systemd/system.conf.d/50-kiosk-watchdog.conf"
install -D -m 0644 "$src_systemd/system.conf.d/50-kiosk-cpus.conf" \
  "$root/etc/systemd/system.conf.d/50-kiosk-cpus.conf"
install -D -m 0644 "$src_systemd/journald.conf.d/50-kiosk.conf" \
  "$root/etc/systemd/journald.conf.d/50-kiosk.conf"
install -D -m 0644 "$src_systemd/sysusers.d/kiosk.conf" "$root/usr/lib/sysusers.d/kiosk.conf"
install -D -m 0644 "$src_systemd/udev/60-kiosk-devices.rules" \
  "$root/etc/udev/rules.d/60-kiosk-devices.rules"
install -D -m 0644 "$src_systemd/modules-load.d/kiosk.conf" "$root/etc/modules-load.d/kiosk.conf"
in_root systemd-sysusers /usr/lib/sysusers.d/kiosk.conf
# The fixed ids (records and the UI's state keep their owners across images), and the UI's account
# without any hardware group: stop the build otherwise.
in_root id kiosk >&2
in_root id kiosk-ui >&2
[ "$(in_root id -u kiosk):$(in_root id -g kiosk)" = "990:990" ] || { say "kiosk is not 990:990"; exit 1; }
[ "$(in_root id -u kiosk-ui):$(in_root id -g kiosk-ui)" = "989:989" ] \
  || { say "kiosk-ui is not 989:989"; exit 1; }
if in_root id -nG kiosk-ui | tr ' ' '\n' | grep -qx -e i2c -e gpio; then
  say "kiosk-ui must not be in i2c or gpio: $(in_root id -nG kiosk-ui)"; exit 1
fi
systemctl --root="$root" enable kiosk-control.service kiosk-ui.service
systemctl --root="$root" mask getty@tty1.service
"$here/service-pin/install.sh" "$root"  # first boot: the factory service PIN

# --- the kiosk: a venv with the pinned wheels and the wheel of this commit ---------------------
say "kiosk venv from pinned wheels (pip under qemu)"
stage="$root/tmp/kiosk-wheels"
mkdir -p "$stage"
cp -a "$KIOSK_WHEELS"/. "$stage/"
in_root python3 -m venv --without-pip /opt/kiosk/venv
pip_wheel="$(cd "$stage/host" && ls pip-*.whl)"
kiosk_pip() { in_root /opt/kiosk/venv/bin/python "/tmp/kiosk-wheels/host/$pip_wheel/pip" \
  --isolated --no-cache-dir --disable-pip-version-check "$@"; }
kiosk_pip install --no-index --find-links /tmp/kiosk-wheels/aarch64 --require-hashes --no-deps \
  -r /tmp/kiosk-wheels/requirements-aarch64.txt
built_wheels=()
for wheel in "$stage"/built/*.whl; do built_wheels+=("/tmp/kiosk-wheels/built/$(basename "$wheel")"); done
[ "${#built_wheels[@]}" -eq 3 ] || { say "expected 3 built wheels, got ${built_wheels[*]}"; exit 1; }
kiosk_pip install --no-index --no-deps "${built_wheels[@]}"
kiosk_pip check
in_root env KIVY_NO_ARGS=1 KIVY_NO_FILELOG=1 KIVY_NO_CONSOLELOG=1 KIVY_HOME=/tmp/kivy-home \
  PYTHONDONTWRITEBYTECODE=1 /opt/kiosk/venv/bin/python -c \
  'import kivy, gpiozero, lgpio, adafruit_ads1x15, adafruit_mcp4725, sdnotify, msgspec, babel, argon2, jeepney, kiosk'
install -m 0644 "$KIOSK_SRC/systemd/README.md" "$root/opt/kiosk/README.systemd.md"

# --- configuration and records ---------------------------------------------------------------
say "/etc/kiosk, data partition tree"
install -d -m 0755 "$root/etc/kiosk"
if [ -f "$KIOSK_SRC/kiosk/hal/board.toml" ]; then
  install -m 0644 "$KIOSK_SRC/kiosk/hal/board.toml" "$root/etc/kiosk/board.toml"
else
  say "WARNING: kiosk/hal/board.toml is not in this commit: no /etc/kiosk/board.toml"
fi
install -d -m 0755 "$root/data" "$root/var/lib/kiosk" "$root/var/lib/kiosk-ui" "$root/var/log/journal"
in_root install -d -m 0750 -o kiosk -g kiosk /data/kiosk
in_root install -d -m 0750 -o kiosk-ui -g kiosk-ui /data/kiosk-ui
in_root install -d -m 2755 -o root -g systemd-journal /data/journal
cp -a "$root/var/lib/systemd" "$root/data/systemd"

# --- what is in the image, for the record and for the test against packages.lock ------------
say "manifest and build info"
install -d -m 0755 "$root/usr/share/kiosk-image"
in_root dpkg-query -W -f='${binary:Package}\t${Version}\n' | LC_ALL=C sort \
  > "$root/usr/share/kiosk-image/packages.manifest"
in_root /opt/kiosk/venv/bin/python "/tmp/kiosk-wheels/host/$pip_wheel/pip" --isolated \
  --disable-pip-version-check list --format=freeze | LC_ALL=C sort \
  > "$root/usr/share/kiosk-image/python.manifest"
cat > "$root/usr/share/kiosk-image/build-info" <<INFO
IMAGE_NAME=$IMAGE_NAME
GIT_COMMIT=$KIOSK_GIT_COMMIT
SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH
SUITE=$SUITE
KERNEL=$kernel_version
INFO

# --- leave nothing that differs from one build to the next -----------------------------------
rm -rf "$stage" "$root/tmp/kivy-home"
rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
