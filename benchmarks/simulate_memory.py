"""Benchmark: peak memory of 1 simulated year against 10 (the controller must stay flat).

Runs :func:`simulate_years.simulate` under tracemalloc for 1 and for 10 years and prints both
peaks and their ratio. Memory that grows with simulated time shows as a ratio well above 1.
Also prints what is still held at the end outside ``simdrive.py``. The
:class:`~itdose.adapters.simdrive.SimulatedDrive` keeps its latest ``trace_limit`` trace entries
and ``id_memory`` command ids (1000 each in the benchmark, both reached within the first year);
the controller keeps a bounded tail of annunciations.
A benchmark, not a test: nothing here asserts.

    python benchmarks/simulate_memory.py
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulate_years import simulate


def peak(years: int) -> tuple[int, dict[str, int]]:
    tracemalloc.start()
    alive: list[object] = []
    counts = simulate(years, keep=alive)
    _, top = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()  # the drive and controller still alive
    tracemalloc.stop()
    for s in snapshot.statistics("lineno")[:4]:
        frame = s.traceback[0]
        print(f"    {s.size / 2**20:7.2f} MiB  {frame.filename}:{frame.lineno}")
    rest = snapshot.filter_traces([tracemalloc.Filter(False, "*simdrive.py")])
    held = sum(s.size for s in rest.statistics("filename"))
    print(f"  held at the end outside simdrive.py: {held / 2**20:.2f} MiB")
    return top, counts


def main() -> None:
    print("1 year:")
    one, c1 = peak(1)
    print(f"  peak {one / 2**20:.2f} MiB ({c1['steps']} steps)")
    print("10 years:")
    ten, c10 = peak(10)
    print(f"  peak {ten / 2**20:.2f} MiB ({c10['steps']} steps)")
    print(f"ratio 10 y / 1 y: {ten / one:.2f}")


if __name__ == "__main__":
    main()
