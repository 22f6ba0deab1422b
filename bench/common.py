"""Shared set-up for the benchmarks: demo structures and a timer."""

from __future__ import annotations

import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "cssnbr3-xix_demo.extxyz.gz"


def demo_structures(n: int | None = None):
    """The demo dataset's relaxed cells as pymatgen Structures."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from advcgcnn.io import read_extxyz

    frames = read_extxyz(DEMO)[:n]
    return [AseAtomsAdaptor.get_structure(f) for f in frames], [f.info["id"] for f in frames]


def best_of(fn, repeat: int = 3) -> float:
    """Smallest wall time of `repeat` calls, seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(name: str, ours: float, baseline: float, unit: str, goal: str) -> None:
    print(
        f"{name:<44} ours {ours:>10.1f} {unit}   baseline {baseline:>10.1f} {unit}   ratio {ours / baseline:>7.1f}x   goal {goal}"
    )
