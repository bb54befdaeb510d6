#!/usr/bin/env bash
# Boots a COPY of the built image under qemu-system-aarch64 (virt machine, Cortex-A72, the image's
# own kernel and initrd, its partitions as a virtio disk) until kiosk.service reports READY.
#
#   image_build/qemu-boot.sh [IMAGE]     exit 0 when READY was seen, 1 otherwise; log in out/
#
# There is no Pi hardware under qemu, so the copy gets one drop-in that runs the kiosk headless on
# the simulated board (python -m kiosk.control.service --headless --sim) with a generous start
# timeout (TCG emulation is slow). Everything else is the image as shipped: read-only root by
# PARTUUID, data partition, bind mounts, the unit's sandbox, Type=notify. The drop-in's
# ExecStartPost= prints "kiosk.service READY=1 received" on the console only once READY=1
# arrived, and relaxes WatchdogSec= for emulation speed. Proves user space, not the Pi
# firmware path. Needs qemu-system-arm, mtools, e2fsprogs (debugfs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/image.conf"
image="${1:-$here/out/$IMAGE_NAME.img}"
timeout_s="${KIOSK_QEMU_TIMEOUT_S:-600}"
log="${KIOSK_QEMU_LOG:-$here/out/qemu-boot.log}"
command -v qemu-system-aarch64 >/dev/null || { echo "qemu-boot: apt-get install qemu-system-arm" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cp --sparse=always "$image" "$tmp/disk.img"
read -r boot_start root_start < <(sfdisk --json "$tmp/disk.img" | python3 -c '
import json, sys
parts = json.load(sys.stdin)["partitiontable"]["partitions"]
print(parts[0]["start"] * 512, parts[1]["start"] * 512)')
kernel="$(mdir -b -i "$tmp/disk.img@@$boot_start" :: | sed -n 's|^::/\(vmlinuz-.*\)|\1|p')"
initrd="$(mdir -b -i "$tmp/disk.img@@$boot_start" :: | sed -n 's|^::/\(initrd.img-.*\)|\1|p')"
mcopy -n -i "$tmp/disk.img@@$boot_start" "::$kernel" "$tmp/vmlinuz"
mcopy -n -i "$tmp/disk.img@@$boot_start" "::$initrd" "$tmp/initrd"

cat > "$tmp/qemu-sim.conf" <<'CONF'
# qemu-boot.sh only: no board under qemu, so the kiosk runs headless on the simulated board.
[Service]
ExecStart=
ExecStart=/opt/kiosk/venv/bin/python -m kiosk.control.service --headless --sim --state-dir /var/lib/kiosk
TimeoutStartSec=900
# TCG runs the arm64 code ~20x slower than a Pi 4: the 10 ms loop misses its period, its cycles
# stop counting as healthy and the 1 s watchdog would abort it before READY could be seen.
WatchdogSec=30s
# Runs only once the start succeeded, which for Type=notify means READY=1 arrived.
ExecStartPost=/bin/echo kiosk.service READY=1 received
# Its log on the serial console too, so the boot log shows what the kiosk said.
StandardOutput=journal+console
StandardError=journal+console
CONF
debugfs -w -f - "$tmp/disk.img?offset=$root_start" >/dev/null 2>"$tmp/debugfs.log" <<CMDS
mkdir /etc/systemd/system/kiosk.service.d
write $tmp/qemu-sim.conf /etc/systemd/system/kiosk.service.d/qemu-sim.conf
CMDS

mkdir -p "$(dirname "$log")"
echo "qemu-boot: booting $image (copy), log $log, up to ${timeout_s}s" >&2
started_s=$(date +%s)
qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic \
  -kernel "$tmp/vmlinuz" -initrd "$tmp/initrd" \
  -append "root=PARTUUID=${DISK_ID}-02 ro console=ttyAMA0 systemd.show_status=true panic=-1" \
  -drive "file=$tmp/disk.img,format=raw,if=virtio" -no-reboot </dev/null >"$log" 2>&1 &
qemu_pid=$!
ready=0
while kill -0 "$qemu_pid" 2>/dev/null; do
  # systemd colours the unit name: strip the escape codes before matching.
  # ExecStartPost= of the drop-in prints this only after READY=1 (systemd's own "Started" line
  # is not shown once the serial getty owns the console).
  if grep -a -q "kiosk.service READY=1 received" "$log"; then ready=1; break; fi
  [ $(( $(date +%s) - started_s )) -lt "$timeout_s" ] || break
  sleep 2
done
elapsed_s=$(( $(date +%s) - started_s ))
kill "$qemu_pid" 2>/dev/null || true
wait "$qemu_pid" 2>/dev/null || true
grep -E "Failed|kiosk" "$log" | tail -n 20 >&2 || true
if [ "$ready" -eq 1 ]; then
  echo "qemu-boot: kiosk.service READY after ${elapsed_s}s of emulated boot" >&2
  exit 0
fi
echo "qemu-boot: kiosk.service never reported READY in ${elapsed_s}s (see $log)" >&2
exit 1
