"""Random displacements of atoms and bulk, vectorised rebuilding of crystal graphs.

Rebuilding the neighbour lists of many displaced cells is done with a Verlet
candidate list: one neighbour search per crystal, before any displacement,
keeps every pair that can still be among an atom's `max_neighbors` nearest
within `cutoff` once no atom moves more than `max_shift` (A). If atom i's
k-th neighbour was at d_k, after the move its new neighbours were at most
min(d_k + 4 max_shift, cutoff + 2 max_shift) away before it. Every sweep point
then recomputes all candidate distances in one numpy pass over all crystals;
a crystal where some atom moved further than `max_shift` is rebuilt exactly
with the per-crystal search instead, so the result always equals a fresh search.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .features import neighbour_edges, select_nearest
from .graphs import GraphSet


def displace(positions: np.ndarray, *, sigma: float, seed: int) -> np.ndarray:
    """Isotropic Gaussian displacement, std `sigma` (A) per Cartesian component, seeded."""
    if sigma == 0:
        return positions.copy()
    rng = np.random.default_rng([seed, int(round(sigma * 1e6))])
    return positions + rng.normal(0.0, sigma, size=positions.shape)


class CandidatePairs:
    """Verlet candidate list for the crystals of one GraphSet."""

    def __init__(self, graphs: GraphSet, *, max_shift: float):
        self.graphs = graphs
        self.max_shift = float(max_shift)
        cutoff, k = graphs.cutoff, graphs.max_neighbors
        parts = []
        for c in range(len(graphs)):
            a0, a1 = graphs.atom_offsets[c], graphs.atom_offsets[c + 1]
            cart, lattice = graphs.positions[a0:a1], graphs.lattice[c]
            wide = neighbour_edges(lattice, cart, cutoff=cutoff + 2 * max_shift, max_neighbors=10**6)
            # k-th neighbour distance per atom in the unperturbed crystal (inf if fewer).
            d_k = np.full(a1 - a0, np.inf)
            within = wide["dist"] <= cutoff
            src_in, dist_in = wide["src"][within], wide["dist"][within]
            starts = np.searchsorted(src_in, src_in, side="left")
            rank = np.arange(src_in.size) - starts
            d_k[src_in[rank == k - 1]] = dist_in[rank == k - 1]
            radius = np.minimum(d_k + 4 * max_shift, cutoff + 2 * max_shift)
            keep = wide["dist"] <= radius[wide["src"]]
            parts.append({key: wide[key][keep] for key in ("src", "dst", "image")} | {"crystal": c})
        self.crystal = np.concatenate([np.full(p["src"].size, p["crystal"]) for p in parts])
        base = graphs.atom_offsets[self.crystal]
        self.src = np.concatenate([p["src"] for p in parts]).astype(np.int64) + base
        self.dst = np.concatenate([p["dst"] for p in parts]).astype(np.int64) + base
        self.image = np.concatenate([p["image"] for p in parts]).astype(np.int8)
        # Cartesian lattice offset of each candidate's image; fixed because cells are fixed.
        self.shift = np.einsum("ei,eij->ej", self.image.astype(float), graphs.lattice[self.crystal])

    def rebuild(self, positions: np.ndarray) -> tuple[GraphSet, int]:
        """GraphSet at new positions (same cells); returns it and the number of exact fallbacks."""
        g = self.graphs
        moved = np.linalg.norm(positions - g.positions, axis=1)
        crystal_of_atom = np.repeat(np.arange(len(g)), np.diff(g.atom_offsets))
        too_far = np.zeros(len(g), dtype=bool)
        np.logical_or.at(too_far, crystal_of_atom, moved > self.max_shift)

        use = ~too_far[self.crystal]
        src, dst = self.src[use], self.dst[use]
        dist = np.linalg.norm(positions[dst] + self.shift[use] - positions[src], axis=1)
        inside = dist <= g.cutoff
        src, dst, dist, image = select_nearest(
            src=src[inside], dst=dst[inside], dist=dist[inside], image=self.image[use][inside], max_neighbors=g.max_neighbors
        )
        crystal = crystal_of_atom[src]

        for c in np.flatnonzero(too_far):  # exact per-crystal search where the skin was exceeded
            a0, a1 = g.atom_offsets[c], g.atom_offsets[c + 1]
            e = neighbour_edges(g.lattice[c], positions[a0:a1], cutoff=g.cutoff, max_neighbors=g.max_neighbors)
            src = np.concatenate([src, e["src"].astype(np.int64) + a0])
            dst = np.concatenate([dst, e["dst"].astype(np.int64) + a0])
            dist = np.concatenate([dist, e["dist"]])
            image = np.concatenate([image, e["image"]])
            crystal = np.concatenate([crystal, np.full(e["src"].size, c)])
        if too_far.any():
            order = np.argsort(crystal, kind="stable")  # fallback edges back in crystal order
            src, dst, dist, image, crystal = src[order], dst[order], dist[order], image[order], crystal[order]

        counts = np.bincount(crystal, minlength=len(g))
        base = g.atom_offsets[crystal]
        return (
            replace(
                g,
                positions=positions,
                edge_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                edge_src=(src - base).astype(np.int32),
                edge_dst=(dst - base).astype(np.int32),
                edge_dist=dist.astype(np.float32),
                edge_image=image.astype(np.int8),
            ),
            int(too_far.sum()),
        )


def perturbed_graphs(graphs: GraphSet, *, sigma: float, seed: int, candidates: CandidatePairs | None = None) -> GraphSet:
    """Displace every atom of every crystal and rebuild the graphs (cells fixed)."""
    if sigma == 0:
        return graphs
    candidates = candidates or CandidatePairs(graphs, max_shift=max(0.5, 5.0 * sigma))
    return candidates.rebuild(displace(graphs.positions, sigma=sigma, seed=seed))[0]
