"""Gap and checks of one cell: seeded rattle, framework check, GFN1-xTB gap.

Shared by the relaxation protocols (`relaxation`), the demo-dataset generator
and screening's next round.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

HARTREE_EV = 27.211386245988
BOHR_A = 0.529177210903


def rattled(structure: Structure, *, amplitude: float, seed: int) -> Structure:
    """A copy with every atom displaced by seeded Gaussian noise (std `amplitude` A per component)."""
    rng = np.random.default_rng(seed)
    cart = structure.cart_coords + rng.normal(0.0, amplitude, size=(len(structure), 3))
    return Structure(structure.lattice, structure.species, cart, coords_are_cartesian=True)


def gfn1_gap(structure: Structure) -> float:
    """Gamma-point HOMO-LUMO gap (eV) of a periodic cell with GFN1-xTB (tblite)."""
    from tblite.interface import Calculator  # the demo environment's labeller, not a core dependency

    calc = Calculator(
        "GFN1-xTB",
        np.array(structure.atomic_numbers),
        structure.cart_coords / BOHR_A,
        lattice=structure.lattice.matrix / BOHR_A,
        periodic=np.array([True, True, True]),
    )
    calc.set("verbosity", 0)
    res = calc.singlepoint()
    energies = np.asarray(res.get("orbital-energies"))
    occupations = np.asarray(res.get("orbital-occupations"))
    n_occupied = int(round(occupations.sum() / 2.0))
    return float(energies[n_occupied] - energies[n_occupied - 1]) * HARTREE_EV


def framework_check(structure: Structure, *, b_site: str, halides: tuple[str, ...], cutoff: float) -> dict:
    """Is every halide bridged by exactly two B cations? Plus B-X-B angle statistics."""
    x_idx = [i for i, sp in enumerate(structure.species) if sp.symbol in halides]
    centres, points, _, dists = structure.get_neighbor_list(cutoff, sites=[structure[i] for i in x_idx])
    angles, broken = [], 0
    for local, site in enumerate(x_idx):
        nbrs = points[(centres == local)]
        nbrs = [j for j in nbrs if structure.species[j].symbol == b_site]
        if len(nbrs) != 2:
            broken += 1
            continue
        # Angle through the bridging halide, using minimum-image vectors.
        v1 = _min_image(structure, site, nbrs[0])
        v2 = _min_image(structure, site, nbrs[1])
        cos = np.dot(v1, v2) / np.linalg.norm(v1) / np.linalg.norm(v2)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    angles = np.array(angles) if angles else np.array([np.nan])
    return {
        "intact": broken == 0,
        "broken_halides": broken,
        "bxb_angle_mean": float(np.nanmean(angles)),
        "bxb_angle_min": float(np.nanmin(angles)),
    }


def _min_image(structure: Structure, i: int, j: int) -> np.ndarray:
    d = structure.frac_coords[j] - structure.frac_coords[i]
    d -= np.round(d)
    return structure.lattice.get_cartesian_coords(d)
