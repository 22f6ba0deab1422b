"""Graph building: the project's featuriser against the original CGCNN data-loader route.

Reference (per structure, as CGCNN's CIFData does): parse the CIF, pymatgen
`get_all_neighbors(cutoff)`, sort each atom's neighbours, pad to 12.
Ours: read the flat structures from HDF5, vectorised neighbour search per
crystal, flat edge arrays (advcgcnn.graphs.build_graphs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import demo_structures, report
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from advcgcnn.graphs import build_graphs, read_structures, write_structures

CUTOFF, MAX_NBR = 8.0, 12


def reference_route(cifs: list[str]) -> None:
    for text in cifs:
        s = Structure.from_str(text, fmt="cif")
        idx, dist = [], []
        for nbrs in s.get_all_neighbors(CUTOFF):
            nbrs = sorted(nbrs, key=lambda n: n.nn_distance)[:MAX_NBR]
            pad = MAX_NBR - len(nbrs)
            idx.append([n.index for n in nbrs] + [0] * pad)
            dist.append([n.nn_distance for n in nbrs] + [CUTOFF + 1.0] * pad)
        np.array(idx), np.array(dist)


def main(n: int) -> None:
    structures, ids = demo_structures(n)
    cifs = [str(CifWriter(s)) for s in structures]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "structures.h5"
        write_structures(path, ids=ids, structures=structures)
        t0 = time.perf_counter()
        build_graphs(read_structures(path), cutoff=CUTOFF, max_neighbors=MAX_NBR)
        ours = time.perf_counter() - t0
    n_ref = min(n, 100)
    t0 = time.perf_counter()
    reference_route(cifs[:n_ref])
    ref = time.perf_counter() - t0
    print(f"graph building on {n} demo cells ({len(structures[0])} atoms), cutoff {CUTOFF} A, {MAX_NBR} neighbours")
    print(f"  reference: {1000 * ref / n_ref:.1f} ms per structure; ours: {1000 * ours / n:.2f} ms per structure")
    report("graph building (structures/s)", n / ours, n_ref / ref, "/s", ">= 50x the reference")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=388)
    main(parser.parse_args().n)
