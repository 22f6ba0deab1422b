"""CGCNN featurisation: one-hot atom features and sparse neighbour lists.

Atom features follow the CGCNN paper (Xie & Grossman 2018, Table S2): one-hot
bins of group, period, electronegativity, covalent radius, valence electrons,
first ionisation energy, electron affinity, block and atomic volume. Values
come from pymatgen's element data; bin edges are fixed over the periodic table
so a feature never depends on the dataset.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Element, Structure

# (name, low, high, n_bins, log-spaced?) for the continuous properties.
CONTINUOUS_BINS = (
    ("electronegativity", 0.5, 4.0, 10, False),
    ("covalent_radius", 0.25, 2.6, 10, False),
    ("first_ionisation_energy", 3.0, 25.0, 10, True),
    ("electron_affinity", -3.0, 3.7, 10, False),
    ("atomic_volume", 1.0, 75.0, 10, True),
)
BLOCKS = ("s", "p", "d", "f")
MAX_Z = 100


def _one_hot(index: int | None, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.float32)
    if index is not None and 0 <= index < size:
        out[index] = 1.0
    return out


def _binned(value: float | None, low: float, high: float, n_bins: int, log: bool) -> np.ndarray:
    if value is None or not np.isfinite(value):
        return np.zeros(n_bins, dtype=np.float32)  # unknown property: all zeros
    if log:
        value, low, high = np.log(max(value, 1e-9)), np.log(low), np.log(high)
    index = int(np.clip((value - low) / (high - low) * n_bins, 0, n_bins - 1))
    return _one_hot(index, n_bins)


def element_properties(z: int) -> dict:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    el = Element.from_Z(z)
    group = el.group
    ionisation = el.ionization_energies[0] if el.ionization_energies else None
    try:
        affinity = float(el.electron_affinity)
    except (TypeError, ValueError):
        affinity = None
    volume = el.molar_volume
    return {
        "group": group,
        "period": el.row,
        "electronegativity": el.X,
        "covalent_radius": CovalentRadius.radius.get(el.symbol),
        "valence_electrons": group if group <= 12 else group - 10,
        "first_ionisation_energy": ionisation,
        "electron_affinity": affinity,
        "block": el.block,
        "atomic_volume": float(volume) if volume is not None else None,
    }


def atom_feature_vector(z: int) -> np.ndarray:
    props = element_properties(z)
    parts = [
        _one_hot(props["group"] - 1, 18),
        _one_hot(props["period"] - 1, 7),
        _one_hot(props["valence_electrons"] - 1, 12),
        _one_hot(BLOCKS.index(props["block"]) if props["block"] in BLOCKS else None, len(BLOCKS)),
    ]
    parts += [_binned(props[name], lo, hi, n, lg) for name, lo, hi, n, lg in CONTINUOUS_BINS]
    return np.concatenate(parts)


@lru_cache(maxsize=1)
def element_feature_table() -> np.ndarray:
    """[MAX_Z + 1, F] atom features indexed by atomic number (row 0 unused)."""
    width = atom_feature_vector(1).size
    table = np.zeros((MAX_Z + 1, width), dtype=np.float32)
    with warnings.catch_warnings():
        # pymatgen warns for heavy elements lacking some data; those bins stay zero.
        warnings.simplefilter("ignore")
        for z in range(1, MAX_Z + 1):
            table[z] = atom_feature_vector(z)
    return table


def feature_names() -> list[str]:
    names = [f"group_{i + 1}" for i in range(18)] + [f"period_{i + 1}" for i in range(7)]
    names += [f"valence_{i + 1}" for i in range(12)] + [f"block_{b}" for b in BLOCKS]
    for name, _, _, n, _ in CONTINUOUS_BINS:
        names += [f"{name}_bin{i}" for i in range(n)]
    return names


def _search(lattice: np.ndarray, cart: np.ndarray, radius: float):
    from pymatgen.optimization.neighbors import find_points_in_spheres

    centres, points, images, dists = find_points_in_spheres(
        cart, cart, r=float(radius), pbc=np.array([1, 1, 1], dtype=np.int64), lattice=lattice, tol=1e-8
    )
    keep = dists > 1e-8  # drop each atom's zero-distance self match
    return centres[keep].astype(np.int64), points[keep].astype(np.int64), images[keep], dists[keep]


def neighbour_edges(lattice: np.ndarray, cart: np.ndarray, *, cutoff: float, max_neighbors: int) -> dict[str, np.ndarray]:
    """Directed edges i -> j to the `max_neighbors` nearest atoms within `cutoff`.

    Uses pymatgen's vectorised neighbour list (periodic images included). The
    search first uses a radius expected to hold twice `max_neighbors` atoms at
    the cell's density; if some atom has fewer than `max_neighbors` there (and
    the radius is below the cutoff), it is repeated at the full cutoff, so the
    result is always that of the full search. Ties in distance are broken by
    neighbour index and image, so the result is deterministic.
    Returns src, dst (atom indices), dist (A) and image (integer cell offset of j).
    """
    cart = np.ascontiguousarray(cart, dtype=float)
    lattice = np.ascontiguousarray(lattice, dtype=float)
    volume_per_atom = abs(np.linalg.det(lattice)) / len(cart)
    radius = min(cutoff, (3.0 * volume_per_atom * 2 * max_neighbors / (4.0 * np.pi)) ** (1 / 3))
    src, dst, image, dist = _search(lattice, cart, radius)
    if radius < cutoff and np.bincount(src, minlength=len(cart)).min() < max_neighbors:
        src, dst, image, dist = _search(lattice, cart, cutoff)
    src, dst, dist, image = select_nearest(src=src, dst=dst, dist=dist, image=image, max_neighbors=max_neighbors)
    return {
        "src": src.astype(np.int32),
        "dst": dst.astype(np.int32),
        "dist": dist.astype(np.float32),
        "image": image.astype(np.int8),
    }


def select_nearest(*, src, dst, dist, image, max_neighbors: int):
    """Each centre's `max_neighbors` nearest edges, sorted by (centre, distance).

    Distances are compared at 1e-6 A; ties are broken by neighbour index, then
    image, so the result never depends on the order the search returned the
    pairs in. One integer sort does the work; only tied runs get a second sort.
    """
    image = np.asarray(image)
    dist_q = np.rint(np.asarray(dist, dtype=np.float64) * 1e6).astype(np.int64)
    shift = max(int(dist_q.max(initial=0)).bit_length(), 1)
    key = (src.astype(np.int64) << shift) | dist_q
    order = np.argsort(key, kind="stable")
    ranked = key[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if tied.size:
        pos = np.unique(np.concatenate([tied, tied + 1]))
        # Neighbour index, then its image (offsets within +-64), as one integer.
        tie = ((dst * 128 + (image[:, 0] + 64)) * 128 + (image[:, 1] + 64)) * 128 + (image[:, 2] + 64)
        sub = order[pos]
        order[pos] = sub[np.lexsort((tie[sub], ranked[pos]))]
    src, dst, dist, image = src[order], dst[order], dist[order], image[order]
    starts = np.searchsorted(src, src, side="left")
    keep = (np.arange(src.size) - starts) < max_neighbors
    return src[keep], dst[keep], dist[keep], image[keep]


def structure_arrays(structure: Structure) -> dict[str, np.ndarray]:
    return {
        "z": np.array(structure.atomic_numbers, dtype=np.int16),
        "cart": np.asarray(structure.cart_coords, dtype=np.float64),
        "lattice": np.asarray(structure.lattice.matrix, dtype=np.float64),
    }
