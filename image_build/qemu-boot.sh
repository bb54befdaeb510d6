#!/usr/bin/env bash
# Boots a COPY of the built image under qemu-system-aarch64 (virt machine, Cortex-A72, four cores
# like the Pi 4, a virtio GPU for the panel, the image's own kernel and initrd, its partitions as a
# virtio disk) until both kiosk units are up, then checks that the UI cannot take the control
# daemon down with it.
#
#   image_build/qemu-boot.sh [IMAGE]     exit 0 when every check passed, 1 otherwise; log in out/
#
# There is no Pi hardware under qemu, so the copy gets drop-ins: kiosk-control runs on the
# simulated board (--sim) with a generous start timeout and WatchdogSec (TCG emulation is ~20x
# slower than a Pi 4: the 10 ms loop misses its period, its cycles stop counting as healthy and
# the 1 s watchdog would abort it); its ExecStartPost= prints "kiosk-control.service READY=1
# received" only once READY=1 arrived. kiosk-ui runs as shipped (KMS/DRM on the virtio GPU).
# A qemu-only probe unit then, as root on the console:
#   1. waits until the UI is the daemon's controlling client (kiosk-ctl status) and its Kivy
#      window is up (GL version in its log) without a restart, and prints the daemon's status (CPU affinity, memory lock and the loop's scheduling as the daemon found them) and
#      every thread of both accounts with its CPU and scheduling class (ps);
#   2. SIGKILLs the UI: the control daemon keeps its PID and stays active, the UI comes back by
#      itself (Restart=always) and takes control again;
#   3. stops the UI: the control daemon still keeps its PID and stays active.
# Everything else is the image as shipped: read-only root by PARTUUID, data partition, bind
# mounts, both units' sandboxes, CPUAffinity (hence -smp 4), Type=notify. Proves user space, not
# the Pi firmware path. Needs qemu-system-arm, mtools, e2fsprogs (debugfs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/image.conf"
image="${1:-$here/out/$IMAGE_NAME.img}"
timeout_s="${KIOSK_QEMU_TIMEOUT_S:-900}"
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

cat > "$tmp/control-sim.conf" <<'CONF'
# qemu-boot.sh only: no board under qemu, so the control daemon runs on the simulated board.
[Service]
ExecStart=
ExecStart=/opt/kiosk/venv/bin/kiosk-control --sim --state-dir %S/kiosk --socket %t/kiosk/control.sock
TimeoutStartSec=900
WatchdogSec=30s
# Runs only once the start succeeded, which for Type=notify means READY=1 arrived.
ExecStartPost=/bin/echo kiosk-control.service READY=1 received
StandardOutput=journal+console
StandardError=journal+console
CONF
cat > "$tmp/ui-console.conf" <<'CONF'
# qemu-boot.sh only: the UI's log on the serial console too.
[Service]
StandardOutput=journal+console
StandardError=journal+console
CONF
cat > "$tmp/kiosk-qemu-probe.service" <<'UNIT'
# qemu-boot.sh only: checks the two kiosk units from the inside and reports on the console.
[Unit]
Description=qemu-boot probe of kiosk-control and kiosk-ui
After=kiosk-control.service kiosk-ui.service

[Service]
Type=oneshot
ExecStart=/bin/sh /etc/kiosk-qemu-probe.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
UNIT
cat > "$tmp/kiosk-qemu-probe.sh" <<'PROBE'
# qemu-boot.sh only (kiosk-qemu-probe.service). Every line it prints starts with "probe:".
ctl=/opt/kiosk/venv/bin/kiosk-ctl
say() { echo "probe: $*"; }
controlling() {  # the name of the controlling client, or nothing
  "$ctl" status 2>/dev/null | sed -n 's/.*controlling: \([^ ]*\).*/\1/p' | grep -v '^-$'
}
wait_for_ui_in_control() {  # $1: seconds
  i=0
  while [ "$i" -lt "$1" ]; do
    [ -n "$(controlling)" ] && return 0
    sleep 2; i=$((i + 2))
  done
  return 1
}
show() { systemctl show -p ActiveState -p SubState -p MainPID -p NRestarts --value "$1" | tr '\n' ' '; }
threads() {
  ps -eLo pid,tid,user:10,psr,cls,rtprio,comm | awk 'NR == 1 || $3 == "kiosk" || $3 == "kiosk-ui"' \
    | sed 's/^/probe:   /'
}
fail() { say "FAIL: $*"; journalctl -b -u kiosk-ui -u kiosk-control --no-pager -n 40 | sed 's/^/probe:   /'; exit 1; }

window_up() {  # Kivy logs its window provider and then the GL version once the window exists
  journalctl -b -u kiosk-ui --no-pager -o cat 2>/dev/null | grep -q "\[GL *\] OpenGL version"
}
say "control: $(show kiosk-control)"
say "ui: $(show kiosk-ui)"
wait_for_ui_in_control 600 || fail "the UI never became the controlling client"
say "UI in control as '$(controlling)' after $(cut -d' ' -f1 /proc/uptime) s of boot"
i=0
until window_up; do
  [ "$i" -lt 600 ] || fail "the UI's window never came up (no 'OpenGL version' in its log)"
  sleep 2; i=$((i + 2))
done
sleep 10
[ "$(systemctl show -p NRestarts --value kiosk-ui)" = 0 ] || fail "the UI restarted on its own"
[ -n "$(controlling)" ] || fail "the UI lost control after its window came up"
say "UI window up (OpenGL) and still in control, no restart, after $(cut -d' ' -f1 /proc/uptime) s"
"$ctl" status | sed 's/^/probe:   /'
say "threads (psr = the CPU last run on, cls FF = SCHED_FIFO):"
threads
id kiosk-ui | sed 's/^/probe: kiosk-ui: /'
control_pid="$(systemctl show -p MainPID --value kiosk-control)"

say "SIGKILL to the UI"
systemctl kill -s SIGKILL kiosk-ui
sleep 5
[ "$(systemctl show -p MainPID --value kiosk-control)" = "$control_pid" ] \
  || fail "the control daemon's PID changed after the UI was killed: $(show kiosk-control)"
systemctl is-active -q kiosk-control || fail "control daemon not active after the UI was killed"
wait_for_ui_in_control 600 || fail "the UI did not come back into control after SIGKILL"
say "UI back in control, restarts: $(systemctl show -p NRestarts --value kiosk-ui); control: $(show kiosk-control)"

say "systemctl stop kiosk-ui"
systemctl stop kiosk-ui
sleep 5
[ "$(systemctl show -p MainPID --value kiosk-control)" = "$control_pid" ] \
  || fail "the control daemon's PID changed after the UI was stopped: $(show kiosk-control)"
systemctl is-active -q kiosk-control || fail "control daemon not active after the UI was stopped"
say "ui: $(show kiosk-ui); control: $(show kiosk-control)"
"$ctl" status | sed 's/^/probe:   /'
say "PASS: both units came up; killing and stopping the UI left the control daemon (pid $control_pid) running"
PROBE
debugfs -w -f - "$tmp/disk.img?offset=$root_start" >/dev/null 2>"$tmp/debugfs.log" <<CMDS
mkdir /etc/systemd/system/kiosk-control.service.d
write $tmp/control-sim.conf /etc/systemd/system/kiosk-control.service.d/qemu-sim.conf
mkdir /etc/systemd/system/kiosk-ui.service.d
write $tmp/ui-console.conf /etc/systemd/system/kiosk-ui.service.d/qemu-console.conf
write $tmp/kiosk-qemu-probe.service /etc/systemd/system/kiosk-qemu-probe.service
symlink /etc/systemd/system/multi-user.target.wants/kiosk-qemu-probe.service /etc/systemd/system/kiosk-qemu-probe.service
write $tmp/kiosk-qemu-probe.sh /etc/kiosk-qemu-probe.sh
CMDS

mkdir -p "$(dirname "$log")"
echo "qemu-boot: booting $image (copy), log $log, up to ${timeout_s}s" >&2
started_s=$(date +%s)
qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 4 -m 1024 -nographic \
  -device virtio-gpu-pci \
  -kernel "$tmp/vmlinuz" -initrd "$tmp/initrd" \
  -append "root=PARTUUID=${DISK_ID}-02 ro console=ttyAMA0 systemd.show_status=true panic=-1" \
  -drive "file=$tmp/disk.img,format=raw,if=virtio" -no-reboot </dev/null >"$log" 2>&1 &
qemu_pid=$!
ready_s="" result=""
while kill -0 "$qemu_pid" 2>/dev/null; do
  now_s=$(( $(date +%s) - started_s ))
  if [ -z "$ready_s" ] && grep -a -q "kiosk-control.service READY=1 received" "$log"; then
    ready_s=$now_s
    echo "qemu-boot: kiosk-control.service READY after ${ready_s}s" >&2
  fi
  if grep -a -q "probe: PASS" "$log"; then result=pass; break; fi
  if grep -a -q "probe: FAIL" "$log"; then result=fail; sleep 5; break; fi
  [ "$now_s" -lt "$timeout_s" ] || break
  sleep 2
done
elapsed_s=$(( $(date +%s) - started_s ))
kill "$qemu_pid" 2>/dev/null || true
wait "$qemu_pid" 2>/dev/null || true
# systemd colours unit names: strip the escape codes from what is shown.
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -a -E "probe:|Failed|kiosk" | tail -n 60 >&2 || true
if [ "$result" = pass ]; then
  echo "qemu-boot: PASS after ${elapsed_s}s (kiosk-control READY at ${ready_s}s)" >&2
  exit 0
fi
echo "qemu-boot: ${result:-no result} after ${elapsed_s}s (kiosk-control READY at ${ready_s:-never}s; see $log)" >&2
exit 1
