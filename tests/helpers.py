"""Helpers shared by tests."""

from __future__ import annotations

import numpy as np


def decorated_frames(n: int, seed: int = 0, rattle: float = 0.05):
    """`n` rattled 2x2x2 CsSnBr3-xIx cells as ASE Atoms with a made-up gap in info.

    The gap is a linear function of x: only for tests of plumbing, never shipped.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from advcgcnn.labelling import rattled
    from advcgcnn.parent import ParentSpec, decorate

    parent = ParentSpec().build()
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        n_i = int(rng.integers(0, 25))
        mask = int(sum(1 << int(b) for b in rng.choice(24, n_i, replace=False)))
        structure = rattled(
            decorate(parent, mask, lattice_constant=5.80 + 0.42 * n_i / 24), amplitude=rattle, seed=seed * 10_000 + i
        )
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.info = {"id": f"c{i:03d}", "band_gap": 1.75 - 0.45 * n_i / 24, "energy_per_atom": -3.4}
        frames.append(atoms)
    return frames
