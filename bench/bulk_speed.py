"""Bulk input and -batch parsing speed, without a kernel (issue 13.1, 13.2).

    .venv/bin/python bench/bulk_speed.py

Prints: AddrSpec construction (µs, best of 7 x 100,000), AddrBulk of 1,000,000 strings and
of a 1,000,000-address range (s, native and pure), and the -batch window scan of a
1,000,000-line file (lines/s, wall and CPU).
"""

from __future__ import annotations

import io
import time
import timeit
from array import array

from nlcore.codec import bulk_batch as BB
from nlcore.codec.bulk import AddrBulk
from nlcore.codec.spec import AddrSpec


def full_validator(address: str, index: int = 0, flags: object = 0) -> AddrSpec:
    """AddrSpec built by its full validator alone (what the constructor did before)."""
    spec = object.__new__(AddrSpec)
    spec.__dict__.update(address=address, index=index, op="add", peer=None, broadcast=None,
                         label=None, scope=None, flags=flags, valid_lft=None,
                         preferred_lft=None, metric=None, proto=None, address_first=False,
                         dev=None)
    spec.__post_init__()
    return spec


def main() -> None:
    g = {"A": AddrSpec, "F": full_validator}
    for args in ("'198.51.100.1/24', index=2", "'2001:db8::1/64', index=2, flags='nodad'"):
        best = {k: 1.0 for k in "AF"}
        for _ in range(7):  # interleaved
            for k in "AF":
                t = timeit.timeit(f"{k}({args})", globals=g, number=50_000) / 50_000
                best[k] = min(best[k], t)
        print(f"AddrSpec({args}): {best['A'] * 1e6:.2f} us (full validator alone: "
              f"{best['F'] * 1e6:.2f} us, x{best['F'] / best['A']:.1f})")
    texts = [f"198.18.{i >> 8 & 255}.{i & 255}/32" for i in range(1_000_000)]
    for be in ("native", "pure"):
        n = 1_000_000 if be == "native" else 100_000
        c0, t0 = time.process_time(), time.perf_counter()
        AddrBulk(texts[:n], index=5, backend=be)
        print(f"AddrBulk {n:,} strings ({be}): {time.perf_counter() - t0:.3f} s wall, "
              f"{time.process_time() - c0:.3f} s CPU")
        c0, t0 = time.process_time(), time.perf_counter()
        AddrBulk.range("198.18.0.0", n, index=[5, 6], backend=be)
        print(f"AddrBulk.range {n:,} ({be}): {time.perf_counter() - t0:.3f} s wall, "
              f"{time.process_time() - c0:.3f} s CPU")
    lines = [f"addr add 2001:db8:{i % 16:x}:{i >> 16:x}::{i & 0xffff:x}/128 dev v{i % 16} nodad"
             if i % 2 else f"address add 198.18.{(i >> 8) & 255}.{i & 255}/32 dev v{i % 16}"
             for i in range(1_000_000)]
    data = ("\n".join(lines) + "\n").encode()
    names, idx = [f"v{k}".encode() for k in range(16)], array("I", range(2, 18))
    c0, t0 = time.process_time(), time.perf_counter()
    total = 0
    for _first, text in BB.iter_windows(io.BytesIO(data)):
        total += len(BB.scan(text, names, idx)[1])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"-batch scan of {total:,} lines: {total / wall:,.0f} lines/s wall, "
          f"{total / cpu:,.0f} lines/s CPU")


if __name__ == "__main__":
    main()
