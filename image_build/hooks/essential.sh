#!/usr/bin/env bash
# mmdebstrap --essential-hook: runs once the Essential set is unpacked, before the kernel, the
# firmware and the rest are installed, so their maintainer scripts see this configuration at once
# (one initramfs build, one config.txt) instead of building twice.
set -euo pipefail
root="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# initramfs: only the modules that mount the root on a Pi 4 (SD card, USB mass storage) and under
# qemu's virt machine. MODULES=most builds 926 modules twice under emulation (27 of 31 minutes).
mkdir -p "$root/etc/initramfs-tools/conf.d" "$root/etc/initramfs-tools/hooks"
cat > "$root/etc/initramfs-tools/conf.d/kiosk-modules.conf" <<'CONF'
MODULES=list
COMPRESS=zstd
CONF
cat > "$root/etc/initramfs-tools/hooks/kiosk-modules" <<'HOOK'
#!/bin/sh
# Root-device modules for the kiosk image (image_build/hooks/essential.sh). A hook rather than the
# conffile /etc/initramfs-tools/modules, which a hook-time edit would turn into a dpkg prompt.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
for module in ext4 crc32c_generic mmc_block sdhci_iproc reset_raspberrypi \
              pcie_brcmstb xhci_pci usb_storage uas sd_mod \
              virtio_blk virtio_pci virtio_mmio; do
  manual_add_modules "$module"
done
HOOK
chmod 0755 "$root/etc/initramfs-tools/hooks/kiosk-modules"

# raspi-firmware: config.txt additions and the extra kernel command line (neither is a conffile).
mkdir -p "$root/etc/default"
install -m 0644 "$here/boot/config-custom.txt" "$root/etc/default/raspi-firmware-custom"
install -m 0644 "$here/boot/cmdline-extra.txt" "$root/etc/default/raspi-extra-cmdline"
