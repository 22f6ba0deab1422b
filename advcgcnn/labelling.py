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


def framework_check(structure: Structure, *, reference: Structure, b_site: str, halides: tuple[str, ...], cutoff: float) -> dict:
    """Is the corner-sharing network of `reference` (same site order) still there, and how off-centred are the B cations?

    The network changed when a halide's two nearest B cations are no longer the two it
    bridges in `reference`, or a B cation's six nearest halides are no longer its octahedron
    (a strongly displaced Sn can come closer to a neighbour's halide than to its own).
    A bridging bond longer than `cutoff` (A) is counted apart, as a long bond: Sn(II)
    off-centring stretches bonds continuously without breaking the network.
    """
    x_idx = [i for i, sp in enumerate(reference.species) if sp.symbol in halides]
    b_idx = [i for i, sp in enumerate(reference.species) if sp.symbol == b_site]
    reference_distances = reference.distance_matrix[np.ix_(x_idx, b_idx)]
    distances = structure.distance_matrix[np.ix_(x_idx, b_idx)]
    partners = np.sort(np.argsort(reference_distances, axis=1)[:, :2], axis=1)
    nearest = np.sort(np.argsort(distances, axis=1)[:, :2], axis=1)
    broken = int((nearest != partners).any(axis=1).sum())
    octahedra = np.sort(np.argsort(reference_distances.T, axis=1)[:, :6], axis=1)
    nearest_six = np.sort(np.argsort(distances.T, axis=1)[:, :6], axis=1)
    broken_b = int((nearest_six != octahedra).any(axis=1).sum())
    bonds = np.take_along_axis(distances, partners, axis=1)
    angles = []
    for x, (p1, p2) in zip(x_idx, partners):  # B-X-B angle through each halide, minimum-image vectors
        v1, v2 = _min_image(structure, x, b_idx[p1]), _min_image(structure, x, b_idx[p2])
        angles.append(np.degrees(np.arccos(np.clip(np.dot(v1, v2) / np.linalg.norm(v1) / np.linalg.norm(v2), -1, 1))))
    return {
        "intact": broken == 0 and broken_b == 0,
        "broken_halides": broken,
        "broken_b_sites": broken_b,
        "long_bonds": int((bonds > cutoff).sum()),
        "bond_max": float(bonds.max()),
        "bxb_angle_mean": float(np.mean(angles)),
        "bxb_angle_min": float(np.min(angles)),
    }


def _min_image(structure: Structure, i: int, j: int) -> np.ndarray:
    d = structure.frac_coords[j] - structure.frac_coords[i]
    d -= np.round(d)
    return structure.lattice.get_cartesian_coords(d)
