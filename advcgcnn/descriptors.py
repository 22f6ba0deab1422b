"""Structural disorder descriptors of ABX3 perovskite cells.

Used to compare adversarial with normal examples and as features of the
interpretable model. Conventions:
- octahedron: the 6 nearest X of each B cation (minimum image);
- bond lengths are compared with their own halide's reference, the mean B-X length of
  that halide in the cell (l_ref(Br), l_ref(I)): Sn-I bonds are longer than Sn-Br bonds,
  which is chemistry, not disorder, so a plain spread would grow with composition;
- bond-length deviation: sqrt(mean over all B-X bonds of (l_i - l_ref(X_i))^2), in A;
- distortion index (Baur 1974, per-halide reference): D = 1/6 sum |l_i - l_ref(X_i)| / l_ref(X_i),
  averaged over octahedra;
- bond-angle variance (Robinson 1971): sigma^2 = 1/11 sum (theta_i - 90)^2 over the
  12 cis X-B-X angles, averaged over octahedra;
- tilt: 180 deg minus the mean B-X-B angle through the bridging halides (the mean angle
  itself is not a second descriptor: it is the same statistic);
- off-centring: distance of B from the centroid of its octahedron, averaged;
- short-range order: Warren-Cowley alpha = 1 - P(substituent | host neighbour) / c_sub
  over nearest X-X pairs (0 for a random alloy, < 0 for Br/I alternation,
  > 0 for clustering; 0 by definition for the end members);
- number of unequal atoms: symmetry-inequivalent sites found by spglib at
  `symprec` (A, default 0.1: larger than CHGNet's residual noise, smaller than
  the octahedral tilts it should resolve);
- number of unequal atoms of the arrangement: the same count after snapping
  every atom to the ideal parent lattice (fractional coordinates rounded to
  multiples of 1/`parent_grid` of the config's `parent`, cell made cubic at the same volume), i.e. the
  symmetry of the Br/I arrangement alone, whatever the relaxation did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import spglib
from pymatgen.core import Lattice, Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from .graphs import to_pymatgen
from .parent import ParentSpec

DEFAULT_SYMPREC = 0.1
DESCRIPTOR_NAMES = (
    "n_unequal_atoms",
    "n_unequal_atoms_arrangement",
    "bond_length_deviation",
    "distortion_index",
    "bond_angle_variance",
    "tilt",
    "b_off_centring",
    "volume_per_atom",
    "substituent_fraction",
    "sro_alpha",
)

DESCRIPTOR_UNITS = {
    "n_unequal_atoms": "count",
    "n_unequal_atoms_arrangement": "count",
    "bond_length_deviation": "Å",
    "distortion_index": "dimensionless",
    "bond_angle_variance": "deg²",
    "tilt": "deg",
    "b_off_centring": "Å",
    "volume_per_atom": "Å³/atom",
    "substituent_fraction": "I / (Br + I)",
    "sro_alpha": "Warren-Cowley α",
}
# +1: a larger value means more disorder; -1: a smaller one; 0: not a disorder measure
# (volume and composition; the sign of Warren-Cowley alpha says order type, not amount).
DISORDER_DIRECTION = {
    "n_unequal_atoms": 1,
    "n_unequal_atoms_arrangement": 1,
    "bond_length_deviation": 1,
    "distortion_index": 1,
    "bond_angle_variance": 1,
    "tilt": 1,
    "b_off_centring": 1,
    "volume_per_atom": 0,
    "substituent_fraction": 0,
    "sro_alpha": 0,
}


def n_unequal_atoms(structure: Structure, *, symprec: float = DEFAULT_SYMPREC) -> int:
    """Number of symmetry-inequivalent atoms (spglib `equivalent_atoms`)."""
    cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:  # spglib found no symmetry at all: every atom is its own class
        return len(structure)
    return int(np.unique(dataset.equivalent_atoms).size)


def n_unequal_atoms_arrangement(structure: Structure, *, parent_grid: int, symprec: float = 1e-3) -> int:
    """Symmetry-inequivalent atoms of the arrangement on the ideal (cubic) parent lattice."""
    snapped = np.round(structure.frac_coords * parent_grid) / parent_grid % 1.0
    ideal = Structure(Lattice.cubic(structure.volume ** (1 / 3)), structure.species, snapped)
    return n_unequal_atoms(ideal, symprec=symprec)


def _vectors(structure: Structure, centres: np.ndarray, cutoff: float):
    """Minimum-image-free neighbour vectors from `centres` (all periodic images within cutoff)."""
    cart = np.ascontiguousarray(structure.cart_coords, dtype=float)
    lattice = np.ascontiguousarray(structure.lattice.matrix, dtype=float)
    c, p, images, d = find_points_in_spheres(
        cart,
        np.ascontiguousarray(cart[centres]),
        r=float(cutoff),
        pbc=np.array([1, 1, 1], dtype=np.int64),
        lattice=lattice,
        tol=1e-8,
    )
    vec = cart[p] + images @ lattice - cart[centres][c]
    keep = d > 1e-8
    return c[keep], p[keep], vec[keep], d[keep]


def octahedra(structure: Structure, *, b_site: str, halides: tuple[str, ...], cutoff: float = 6.0) -> tuple:
    """For each B cation: the 6 nearest halides (indices) and the B->X vectors [n_B, 6, 3].

    `cutoff` only bounds the search: an off-centred Sn(II) keeps bridging bonds of
    4.5 A and more in an intact network (the demo's framework check), while the next
    shell of halides lies near 1.1 lattice constants (6.4-7 A).
    """
    symbols = np.array([sp.symbol for sp in structure.species])
    b_idx = np.flatnonzero(symbols == b_site)
    c, p, vec, d = _vectors(structure, b_idx, cutoff)
    is_x = np.isin(symbols[p], halides)
    c, p, vec, d = c[is_x], p[is_x], vec[is_x], d[is_x]
    order = np.lexsort((d, c))
    c, p, vec, d = c[order], p[order], vec[order], d[order]
    counts = np.bincount(c, minlength=b_idx.size)
    if (counts < 6).any():
        raise ValueError(f"a {b_site} atom has fewer than 6 halides within {cutoff} A: not an octahedral framework")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = (starts[:, None] + np.arange(6)[None, :]).ravel()
    return b_idx, p[take].reshape(-1, 6), vec[take].reshape(-1, 6, 3)


def halide_reference_lengths(lengths: np.ndarray, *, halide_of_bond: np.ndarray) -> np.ndarray:
    """Each bond's reference length: the mean length of the bonds to the same halide in the cell."""
    reference = np.empty_like(lengths)
    for halide in np.unique(halide_of_bond):
        same = halide_of_bond == halide
        reference[same] = lengths[same].mean()
    return reference


def octahedral_descriptors(structure: Structure, *, b_site: str, halides: tuple[str, ...]) -> dict:
    b_idx, x_idx, vec = octahedra(structure, b_site=b_site, halides=halides)
    lengths = np.linalg.norm(vec, axis=2)  # [n_B, 6]
    reference = halide_reference_lengths(lengths, halide_of_bond=np.array([sp.symbol for sp in structure.species])[x_idx])
    deviation = lengths - reference
    distortion = (np.abs(deviation) / reference).mean(axis=1)
    unit = vec / lengths[..., None]
    cosines = np.einsum("bik,bjk->bij", unit, unit)
    angles = np.degrees(np.arccos(np.clip(cosines, -1, 1)))
    iu = np.triu_indices(6, k=1)
    pair_angles = angles[:, iu[0], iu[1]]  # [n_B, 15]: 12 cis (~90) + 3 trans (~180)
    cis = np.sort(pair_angles, axis=1)[:, :12]
    angle_variance = ((cis - 90.0) ** 2).sum(axis=1) / 11.0
    off_centring = np.linalg.norm(vec.mean(axis=1), axis=1)

    # B-X-B angles: each halide bridges two B; pair the two B->X vectors of that halide.
    bxb = []
    flat_x = x_idx.ravel()
    flat_vec = vec.reshape(-1, 3)
    for x in np.unique(flat_x):
        v = flat_vec[flat_x == x]
        if len(v) == 2:  # X->B vectors are the negatives of B->X
            cos = np.dot(-v[0], -v[1]) / np.linalg.norm(v[0]) / np.linalg.norm(v[1])
            bxb.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    bxb_mean = float(np.mean(bxb)) if bxb else float("nan")
    return {
        "bond_length_deviation": float(np.sqrt((deviation**2).mean())),
        "distortion_index": float(distortion.mean()),
        "bond_angle_variance": float(angle_variance.mean()),
        "tilt": 180.0 - bxb_mean,
        "b_off_centring": float(off_centring.mean()),
    }


def warren_cowley_sro(structure: Structure, *, host: str, substituent: str, cutoff: float | None = None) -> float:
    """Warren-Cowley alpha of the substituent around host atoms, nearest X-X shell."""
    symbols = np.array([sp.symbol for sp in structure.species])
    x_idx = np.flatnonzero(np.isin(symbols, [host, substituent]))
    n_sub = int((symbols == substituent).sum())
    c_sub = n_sub / x_idx.size
    if n_sub == 0 or n_sub == x_idx.size:
        return 0.0
    if cutoff is None:
        # Nearest X-X distance times 1.2 catches the first shell of a (distorted) perovskite.
        _, p, _, d = _vectors(structure, x_idx, 6.0)
        cutoff = 1.2 * float(d[np.isin(symbols[p], [host, substituent])].min())
    c, p, _, _ = _vectors(structure, x_idx, cutoff)
    centre_sym = symbols[x_idx][c]
    neigh_sym = symbols[p]
    mask = (centre_sym == host) & np.isin(neigh_sym, [host, substituent])
    if not mask.any():
        return 0.0
    p_sub = float((neigh_sym[mask] == substituent).mean())
    return 1.0 - p_sub / c_sub


def describe(structure: Structure, *, parent: ParentSpec, symprec: float = DEFAULT_SYMPREC) -> dict:
    """Every descriptor of DESCRIPTOR_NAMES for one structure, an arrangement of `parent`."""
    host, substituent = parent.mixed_species
    out = {
        "n_unequal_atoms": n_unequal_atoms(structure, symprec=symprec),
        "n_unequal_atoms_arrangement": n_unequal_atoms_arrangement(structure, parent_grid=parent.parent_grid),
    }
    out.update(octahedral_descriptors(structure, b_site=parent.b_site, halides=parent.mixed_species))
    symbols = [sp.symbol for sp in structure.species]
    n_x = sum(s in (host, substituent) for s in symbols)
    out["volume_per_atom"] = structure.volume / len(structure)
    out["substituent_fraction"] = symbols.count(substituent) / n_x if n_x else float("nan")
    out["sro_alpha"] = warren_cowley_sro(structure, host=host, substituent=substituent)
    return out


def describe_all(structures: dict, *, parent: ParentSpec, symprec: float = DEFAULT_SYMPREC) -> pd.DataFrame:
    """Descriptors of every crystal of a flat structure set (see graphs.read_structures)."""
    rows = []
    for i, cid in enumerate(structures["ids"]):
        try:
            rows.append({"id": cid, **describe(to_pymatgen(structures, i), parent=parent, symprec=symprec)})
        except ValueError as err:
            raise ValueError(f"configuration {cid}: {err}") from err
    return pd.DataFrame(rows, columns=["id", *DESCRIPTOR_NAMES])
