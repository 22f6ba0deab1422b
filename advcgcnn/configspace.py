"""Symmetry-distinct substitutional arrangements on one sublattice of a supercell.

An arrangement is an integer bitmask over the substituted sublattice: bit i set
means site i carries the substituent (I on a Br site for CsSnBr3-xIx). Two
arrangements are equivalent when a space-group operation of the parent
supercell maps one onto the other; we keep one representative per orbit (the
smallest bitmask) and its multiplicity (orbit size).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import spglib

from .io import write_csv
from .parent import MAX_ENUMERATED_SITES, Parent, ParentSpec


def site_permutations(parent: Parent, *, symprec: float = 1e-3) -> np.ndarray:
    """Permutations [n_ops, n_sites] of the sublattice under the supercell's space group."""
    s = parent.structure
    sym = spglib.get_symmetry((s.lattice.matrix, s.frac_coords, s.atomic_numbers), symprec=symprec)
    frac = s.frac_coords[parent.sublattice]
    perms = []
    for rot, trans in zip(sym["rotations"], sym["translations"]):
        image = frac @ rot.T + trans
        delta = image[:, None, :] - frac[None, :, :]
        delta -= np.round(delta)
        match = np.linalg.norm(delta, axis=-1) < 1e-4
        if not np.all(match.sum(axis=1) == 1):
            raise ValueError("symmetry operation does not map the sublattice onto itself")
        perms.append(match.argmax(axis=1))
    return np.unique(np.array(perms), axis=0)


def byte_tables(perms: np.ndarray) -> np.ndarray:
    """Lookup tables [n_ops, n_bytes, 256]: the image bits contributed by one input byte."""
    n_ops, n_sites = perms.shape
    n_bytes = (n_sites + 7) // 8
    values = np.arange(256, dtype=np.int64)
    tables = np.zeros((n_ops, n_bytes, 256), dtype=np.int64)
    for b in range(n_bytes):
        for bit in range(8):
            site = 8 * b + bit
            if site >= n_sites:
                break
            present = (values >> bit) & 1
            tables[:, b, :] |= present[None, :] << perms[:, site][:, None]
    return tables


def apply_permutations(mask: int, *, tables: np.ndarray) -> np.ndarray:
    """All images of one bitmask under the group, as int64 [n_ops]."""
    out = np.zeros(tables.shape[0], dtype=np.int64)
    for b in range(tables.shape[1]):
        out |= tables[:, b, (mask >> (8 * b)) & 255]
    return out


def enumerate_orbits(perms: np.ndarray) -> dict[str, np.ndarray]:
    """Every orbit of bitmasks under the permutation group.

    Returns arrays `mask` (smallest member), `n_sub` (substituent count) and
    `multiplicity` (orbit size), sorted by n_sub then mask.
    """
    n_sites = perms.shape[1]
    if n_sites > MAX_ENUMERATED_SITES:
        raise ValueError(
            f"{n_sites} sites: full enumeration needs 2**{n_sites} flags; at most {MAX_ENUMERATED_SITES} sites are supported"
        )
    tables = byte_tables(perms)
    n_total = 1 << n_sites
    visited = np.zeros(n_total, dtype=bool)
    masks, mults = [], []
    pointer, window = 0, 4096
    while pointer < n_total:
        free = np.flatnonzero(~visited[pointer : pointer + window])
        if free.size == 0:
            pointer += window
            continue
        pointer += int(free[0])
        # The smallest unvisited mask is the smallest member of its own orbit.
        images = np.unique(apply_permutations(pointer, tables=tables))
        visited[images] = True
        masks.append(pointer)
        mults.append(images.size)
    masks = np.array(masks, dtype=np.int64)
    n_sub = np.array([bin(m).count("1") for m in masks], dtype=np.int64)
    order = np.lexsort((masks, n_sub))
    return {"mask": masks[order], "n_sub": n_sub[order], "multiplicity": np.array(mults)[order]}


def burnside_orbit_counts(perms: np.ndarray) -> np.ndarray:
    """Orbits per substituent count from Burnside's lemma (an independent check).

    A permutation with cycle lengths l_1..l_k fixes an arrangement iff each cycle
    is uniform, so its fixed arrangements with n substituents are the
    coefficients of prod_j (1 + t**l_j).
    """
    n_ops, n_sites = perms.shape
    total = np.zeros(n_sites + 1, dtype=object)
    for perm in perms:
        seen = np.zeros(n_sites, dtype=bool)
        poly = np.zeros(n_sites + 1, dtype=object)
        poly[0] = 1
        for start in range(n_sites):
            if seen[start]:
                continue
            length, site = 0, start
            while not seen[site]:
                seen[site] = True
                site = perm[site]
                length += 1
            shifted = np.zeros_like(poly)
            shifted[length:] = poly[:-length]
            poly = poly + shifted
        total += poly
    return np.array([int(c) // n_ops for c in total], dtype=np.int64)


def sample_orbits(orbits: dict[str, np.ndarray], *, per_count: int, seed: int) -> dict[str, np.ndarray]:
    """Up to `per_count` orbits per substituent count, uniformly at random, seeded."""
    rng = np.random.default_rng(seed)
    keep = []
    for n in np.unique(orbits["n_sub"]):
        idx = np.flatnonzero(orbits["n_sub"] == n)
        if idx.size > per_count:
            idx = np.sort(rng.choice(idx, size=per_count, replace=False))
        keep.append(idx)
    keep = np.concatenate(keep)
    return {k: v[keep] for k, v in orbits.items()}


def read_orbits(path) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path)
    return {
        "mask": np.array([int(m, 16) for m in frame["mask"]], dtype=np.int64),
        "n_sub": frame["n_sub"].to_numpy(np.int64),
        "multiplicity": frame["multiplicity"].to_numpy(np.int64),
    }


def write_orbits(*, path: str, spec: ParentSpec, log=print) -> None:
    """Enumerate, cross-check against Burnside's count, and write one row per orbit."""
    parent = spec.build()
    perms = site_permutations(parent)
    orbits = enumerate_orbits(perms)
    counts = np.bincount(orbits["n_sub"], minlength=perms.shape[1] + 1)
    expected = burnside_orbit_counts(perms)
    if not np.array_equal(counts, expected):
        raise RuntimeError(f"orbit enumeration {counts.tolist()} disagrees with Burnside {expected.tolist()}")
    log(f"{perms.shape[0]} symmetry operations on {perms.shape[1]} sites; {counts.sum()} orbits")
    log(f"{spec.a_site}{spec.b_site}({spec.host},{spec.substituent})3, {spec.supercell}x{spec.supercell}x{spec.supercell} cell")
    log(f"orbits per {spec.substituent} count: {counts.tolist()}")
    frame = pd.DataFrame(
        {
            "mask": [mask_hex(int(m), n_sites=perms.shape[1]) for m in orbits["mask"]],
            "n_sub": orbits["n_sub"],
            "multiplicity": orbits["multiplicity"],
        }
    )
    write_csv(path, frame)


def mask_hex(mask: int, *, n_sites: int) -> str:
    """Fixed-width hexadecimal of a bitmask over `n_sites` sites (how orbits are written in tables)."""
    return f"{mask:0{(n_sites + 3) // 4}x}"


def orbit_name(mask: int, *, n_sites: int) -> str:
    """Name of an orbit from its representative: never all digits, so tables keep it a string."""
    return f"orbit_{mask_hex(mask, n_sites=n_sites)}"


def arrangement_mask(structure, *, parent: Parent, parent_grid: int) -> int | None:
    """Bitmask of substituted sublattice sites, or None if `structure` is not an arrangement of `parent`."""
    ideal = parent.structure.frac_coords[parent.sublattice] * parent_grid
    if np.abs(ideal - np.round(ideal)).max() > 1e-6:
        raise ValueError(f"parent_grid {parent_grid} does not put the parent's atoms on grid points")
    if len(structure) != len(parent.structure):
        return None

    def mask_of(frac: np.ndarray) -> int | None:
        on_grid = _mask_on_grid(frac, structure=structure, parent=parent, parent_grid=parent_grid, ideal=ideal)
        return on_grid if on_grid is not None else _mask_by_nearest_sites(frac, structure=structure, parent=parent)

    mask = mask_of(structure.frac_coords)
    if mask is None:
        # A cell with another origin (a DFT cell written elsewhere): put one atom of the parent's first
        # species where the parent has it. The lattice translation that differs is a symmetry of the supercell.
        anchor = parent.structure.species[0]
        same = [i for i, sp in enumerate(structure.species) if sp == anchor]
        if same:
            mask = mask_of(structure.frac_coords + (parent.structure.frac_coords[0] - structure.frac_coords[same[0]]))
    return mask


def _mask_by_nearest_sites(frac: np.ndarray, *, structure, parent: Parent) -> int | None:
    """Each atom on the nearest parent site of its kind (a cation, or the mixed sublattice), in the cell's own metric.

    For distorted cells that rounding to the grid cannot place (an off-centred Sn moves by more than
    the grid's half spacing); accepted only when every atom lies within half the spacing of its
    kind's sites, so that the nearest site is unambiguous.
    """
    mixed = {parent.host, parent.substituent}

    def kinds(species) -> np.ndarray:
        return np.array(["mixed" if sp.symbol in mixed else sp.symbol for sp in species])

    parent_kinds, atom_kinds = kinds(parent.structure.species), kinds(structure.species)
    ideal = parent.structure.frac_coords
    metric = structure.lattice.matrix
    site_of = {}
    for kind in np.unique(parent_kinds):
        sites, atoms = np.flatnonzero(parent_kinds == kind), np.flatnonzero(atom_kinds == kind)
        if len(sites) != len(atoms):
            return None
        delta = frac[atoms][:, None, :] - ideal[sites][None, :, :]
        distance = np.linalg.norm((delta - np.round(delta)) @ metric, axis=2)
        between = ideal[sites][:, None, :] - ideal[sites][None, :, :]
        spacing = np.linalg.norm((between - np.round(between)) @ metric, axis=2)
        half = 0.5 * (spacing[spacing > 1e-8].min() if len(sites) > 1 else min(structure.lattice.abc))
        nearest = distance.argmin(axis=1)
        if len(set(nearest.tolist())) != len(atoms) or distance[np.arange(len(atoms)), nearest].max() >= half:
            return None
        site_of.update({int(sites[n]): int(a) for a, n in zip(atoms, nearest)})
    mask = 0
    for bit, site in enumerate(parent.sublattice):
        if structure.species[site_of[int(site)]].symbol == parent.substituent:
            mask |= 1 << bit
    return mask


def _mask_on_grid(frac: np.ndarray, *, structure, parent: Parent, parent_grid: int, ideal: np.ndarray) -> int | None:
    def grid_key(scaled):
        cell = np.round(scaled).astype(int) % parent_grid
        return (cell[:, 0] * parent_grid + cell[:, 1]) * parent_grid + cell[:, 2]

    site_of = {k: i for i, k in enumerate(grid_key(frac * parent_grid))}
    if len(site_of) != len(structure):
        return None  # two atoms snapped onto one site: too distorted to assign
    symbols = [sp.symbol for sp in structure.species]
    mask = 0
    for bit, key in enumerate(grid_key(ideal)):
        atom = site_of.get(int(key))
        if atom is None:
            return None
        if symbols[atom] == parent.substituent:
            mask |= 1 << bit
        elif symbols[atom] != parent.host:
            return None
    return mask


def canonical_mask(mask: int, *, tables: np.ndarray) -> int:
    """The orbit's representative: the smallest image of `mask` under the group."""
    return int(apply_permutations(mask, tables=tables).min())


def orbit_masks(structures, *, spec: ParentSpec) -> list[int | None]:
    """Canonical arrangement (orbit representative) of each structure; None where it is no arrangement of the parent."""
    parent = spec.build()
    tables = byte_tables(site_permutations(parent))
    masks = [arrangement_mask(s, parent=parent, parent_grid=spec.parent_grid) for s in structures]
    return [None if m is None else canonical_mask(m, tables=tables) for m in masks]
