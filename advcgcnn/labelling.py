"""Geometry and gap of one cell: CHGNet relaxation, framework check, GFN1-xTB gap.

Used by the demo-dataset generator and by screening's next round, so both relax
a cell the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from pymatgen.core import Structure

HARTREE_EV = 27.211386245988
BOHR_A = 0.529177210903


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """How one cell is relaxed and checked (config demo_dataset.protocol)."""

    rattle: float = 0.03  # A
    fmax: float = 0.05  # eV/A
    max_steps: int = 500
    bond_cutoff: float = 3.8  # A, B-X bond of the framework check
    seed: int = 2024


def chgnet_optimizer():
    """CHGNet's structure optimiser on the CPU (pretrained weights ship inside the chgnet wheel)."""
    from chgnet.model import StructOptimizer  # the demo environment's relaxer, not a core dependency

    # ASE's cell filter calls scipy's logm every step; its accuracy notes are noise here.
    warnings.filterwarnings("ignore", message="logm result may be inaccurate")
    return StructOptimizer(use_device="cpu")


def rattled(structure: Structure, *, amplitude: float, seed: int) -> Structure:
    """A copy with every atom displaced by seeded Gaussian noise (std `amplitude` A per component)."""
    rng = np.random.default_rng(seed)
    cart = structure.cart_coords + rng.normal(0.0, amplitude, size=(len(structure), 3))
    return Structure(structure.lattice, structure.species, cart, coords_are_cartesian=True)


def relax_chgnet(structure: Structure, *, protocol: Protocol, optimizer=None) -> dict:
    """Relax positions and cell with CHGNet; weights come from the installed wheel."""
    if optimizer is None:
        optimizer = chgnet_optimizer()
    torch.manual_seed(protocol.seed)
    result = optimizer.relax(structure, fmax=protocol.fmax, steps=protocol.max_steps, relax_cell=True, verbose=False)
    energies = result["trajectory"].energies
    forces = np.asarray(result["trajectory"].forces[-1])
    return {
        "structure": result["final_structure"],
        "energy_per_atom": float(energies[-1]) / len(structure),
        "steps": len(energies),
        "max_force": float(np.linalg.norm(forces, axis=1).max()),
    }


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
