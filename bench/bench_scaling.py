"""Scaling: time, HDF5 bytes and peak memory per structure at 1k, 10k and 100k configurations.

Synthetic configurations are the demo cells with seeded 0.05 A displacements,
streamed through the same path as the pipeline: structures written in shards,
one graph shard built from each (nothing larger than a shard held in RAM).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from common import demo_structures
from pymatgen.core import Structure

from advcgcnn.graphs import GraphSettings, build_shard, write_structures
from advcgcnn.perturb import displace


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n_total: int, base, shard_size: int, tmp: Path) -> dict:
    structures, ids = base
    t0 = time.perf_counter()
    n_bytes = 0
    for shard in range(-(-n_total // shard_size)):
        count = min(shard_size, n_total - shard * shard_size)
        picked = [structures[(shard * shard_size + i) % len(structures)] for i in range(count)]
        moved = [
            Structure(
                s.lattice, s.species, displace(s.cart_coords, sigma=0.05, seed=shard * shard_size + i), coords_are_cartesian=True
            )
            for i, s in enumerate(picked)
        ]
        s_path, g_path = tmp / "s.h5", tmp / f"g_{shard}.h5"
        write_structures(s_path, ids=[f"syn{shard * shard_size + i}" for i in range(count)], structures=moved)
        build_shard(
            structures_path=s_path,
            shard=0,
            shard_size=shard_size,
            settings=GraphSettings(cutoff=8.0, max_neighbors=12),
            out_path=g_path,
        )
        n_bytes += g_path.stat().st_size
        g_path.unlink()
    seconds = time.perf_counter() - t0
    return {
        "n": n_total,
        "ms_per_structure": 1000 * seconds / n_total,
        "kb_per_structure": n_bytes / n_total / 1024,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(sizes: list[int], shard_size: int) -> None:
    base = demo_structures()
    print(f"{'configurations':>15} {'ms/structure':>13} {'HDF5 kB/structure':>18} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = run(n, base, shard_size, Path(tmp))
            print(f"{r['n']:>15} {r['ms_per_structure']:>13.2f} {r['kb_per_structure']:>18.1f} {r['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--shard-size", type=int, default=1000)
    args = parser.parse_args()
    main(args.sizes, args.shard_size)
