#!/usr/bin/env bash
# Called by hooks/customize.sh with the image root: the first-boot unit that draws the device's
# factory service PIN (kiosk-service-pin.service, beside this script), installed and enabled.
set -euo pipefail
root="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
install -m 0644 "$here/kiosk-service-pin.service" "$root/usr/lib/systemd/system/"
systemctl --root="$root" enable kiosk-service-pin.service
