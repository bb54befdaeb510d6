"""How long one service PIN check takes (argon2id at the vault's parameters), and so how long an
offline guess of every six-digit PIN from a copied file would take on this machine.

    .venv/bin/python bench/bench_pins.py [--rounds N]

Prints the median and the slowest of N hashes and N verifications (one PIN attempt with a
technician and a manager PIN set verifies both hashes: twice the verification time).
"""

from __future__ import annotations

import argparse
import statistics
import time

from kiosk.access.pins import PIN_LENGTH, default_hasher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    hasher = default_hasher()
    hashes, checks = [], []
    encoded = hasher.hash("482917")
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.hash("482917")
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        hasher.verify(encoded, "482917")
        checks.append(time.perf_counter() - started)
    verify_s = statistics.median(checks)
    print(f"argon2id m={hasher.memory_cost} KiB t={hasher.time_cost} p={hasher.parallelism}")
    print(f"hash:   median {statistics.median(hashes) * 1000:.1f} ms, "
          f"max {max(hashes) * 1000:.1f} ms ({rounds} rounds)")
    print(f"verify: median {verify_s * 1000:.1f} ms, max {max(checks) * 1000:.1f} ms")
    print(f"one PIN attempt with two roles: ~{2 * verify_s * 1000:.0f} ms")
    every_pin_h = (10 ** PIN_LENGTH) * verify_s / 3600.0
    print(f"every {PIN_LENGTH}-digit PIN offline, one core: ~{every_pin_h:.1f} h")


if __name__ == "__main__":
    main()
