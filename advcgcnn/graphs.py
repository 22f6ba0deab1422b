"""Crystal graphs in HDF5: concatenated arrays with per-crystal offsets, no padding.

Layout of one file (FORMAT_VERSION 1):
  ids            [n_crystals]      utf-8 strings
  lattice        [n_crystals,3,3]  float64, rows are lattice vectors (A)
  atom_offsets   [n_crystals+1]    int64, crystal c owns atoms atom_offsets[c]:atom_offsets[c+1]
  atom_z         [n_atoms]         int16 atomic numbers (features come from element_table)
  positions      [n_atoms,3]       float64 Cartesian (A)
  edge_offsets   [n_crystals+1]    int64, crystal c owns edges edge_offsets[c]:edge_offsets[c+1]
  edge_src, edge_dst [n_edges]     int32 atom indices local to the crystal
  edge_dist      [n_edges]         float32 (A)
  edge_image     [n_edges,3]       int8 lattice offset of the neighbour's image
  element_table  [MAX_Z+1,F]       float32 atom features indexed by Z
attrs: format_version, cutoff, max_neighbors, feature_names (JSON).
The same layout serves for the structures written by ingestion (no edges).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import h5py
import numpy as np
from pymatgen.core import Lattice, Structure

from .features import element_feature_table, feature_names, neighbour_edges
from .io import atomic_path

FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class GraphSettings:
    """How crystal graphs are built (config section `graphs`)."""

    cutoff: float = 8.0  # A
    max_neighbors: int = 12

    @classmethod
    def from_config(cls, section: Mapping) -> GraphSettings:
        return cls(cutoff=float(section["cutoff"]), max_neighbors=int(section["max_neighbors"]))


@dataclass
class GraphSet:
    """Graphs of many crystals, held as flat arrays."""

    ids: list[str]
    lattice: np.ndarray
    atom_offsets: np.ndarray
    atom_z: np.ndarray
    positions: np.ndarray
    edge_offsets: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_dist: np.ndarray
    edge_image: np.ndarray
    cutoff: float
    max_neighbors: int

    def __len__(self) -> int:
        return len(self.ids)


def build_graphs(structures: dict, *, cutoff: float, max_neighbors: int) -> GraphSet:
    """Neighbour lists for every crystal of a flat structure set (see read_structures)."""
    ids, offsets = structures["ids"], structures["atom_offsets"]
    parts = []
    for c in range(len(ids)):
        a0, a1 = offsets[c], offsets[c + 1]
        edges = neighbour_edges(
            structures["lattice"][c], structures["positions"][a0:a1], cutoff=cutoff, max_neighbors=max_neighbors
        )
        if edges["src"].size == 0:
            raise ValueError(f"{ids[c]}: no neighbours within {cutoff} A; increase graphs.cutoff")
        parts.append(edges)
    counts = [p["src"].size for p in parts]
    return GraphSet(
        list(ids),
        structures["lattice"],
        offsets,
        structures["atom_z"],
        structures["positions"],
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate([p["src"] for p in parts]) if parts else np.zeros(0, np.int32),
        np.concatenate([p["dst"] for p in parts]) if parts else np.zeros(0, np.int32),
        np.concatenate([p["dist"] for p in parts]) if parts else np.zeros(0, np.float32),
        np.concatenate([p["image"] for p in parts]) if parts else np.zeros((0, 3), np.int8),
        float(cutoff),
        int(max_neighbors),
    )


STRUCTURE_KEYS = ("lattice", "atom_offsets", "atom_z", "positions")
# The GraphSet arrays in their HDF5 order (the order of GraphSet's fields after `ids`).
GRAPH_ARRAYS = (*STRUCTURE_KEYS, "edge_offsets", "edge_src", "edge_dst", "edge_dist", "edge_image")


def flatten_structures(ids: list[str], structures: list) -> dict:
    """pymatgen Structures as one flat structure set (the layout of read_structures)."""
    counts = [len(s) for s in structures]
    return {
        "ids": list(ids),
        "lattice": np.array([s.lattice.matrix for s in structures]).reshape(-1, 3, 3),
        "atom_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "atom_z": np.concatenate([s.atomic_numbers for s in structures]).astype(np.int16)
        if structures
        else np.zeros(0, np.int16),
        "positions": np.concatenate([s.cart_coords for s in structures]).reshape(-1, 3) if structures else np.zeros((0, 3)),
    }


def select_structures(parts: list[dict], rows: list[tuple[int, int]]) -> dict:
    """A flat structure set of crystals picked from several: (part, index in part) in the order given."""
    lattices, zs, positions, ids, counts = [], [], [], [], []
    for part, index in rows:
        flat = parts[part]
        a0, a1 = flat["atom_offsets"][index], flat["atom_offsets"][index + 1]
        ids.append(flat["ids"][index])
        lattices.append(flat["lattice"][index])
        zs.append(flat["atom_z"][a0:a1])
        positions.append(flat["positions"][a0:a1])
        counts.append(a1 - a0)
    return {
        "ids": ids,
        "lattice": np.array(lattices).reshape(-1, 3, 3),
        "atom_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "atom_z": np.concatenate(zs).astype(np.int16) if zs else np.zeros(0, np.int16),
        "positions": np.concatenate(positions).reshape(-1, 3) if positions else np.zeros((0, 3)),
    }


def write_structures(path, *, ids: list[str] | None = None, structures: list | None = None, flat: dict | None = None) -> None:
    """Ingested structures, same flat layout as the graphs but without edges (pymatgen Structures or a flat set)."""
    if flat is None:
        flat = flatten_structures(ids, structures)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.create_dataset("ids", data=np.array(flat["ids"], dtype=object), dtype=h5py.string_dtype())
            for key in STRUCTURE_KEYS:
                h5.create_dataset(key, data=flat[key])


def count_structures(path) -> int:
    with h5py.File(path, "r") as h5:
        return int(h5["ids"].shape[0])


def read_structures(path, *, start: int = 0, stop: int | None = None) -> dict:
    """Crystals start:stop of a structures file, offsets rebased to 0 (reads only that slice)."""
    with h5py.File(path, "r") as h5:
        n = h5["ids"].shape[0]
        stop = n if stop is None else min(stop, n)
        start = min(start, stop)
        offsets = h5["atom_offsets"][start : stop + 1]
        a0, a1 = (offsets[0], offsets[-1]) if offsets.size else (0, 0)
        return {
            "ids": [s.decode() if isinstance(s, bytes) else str(s) for s in h5["ids"][start:stop]],
            "lattice": h5["lattice"][start:stop],
            "atom_offsets": (offsets - a0) if offsets.size else np.zeros(1, np.int64),
            "atom_z": h5["atom_z"][a0:a1],
            "positions": h5["positions"][a0:a1],
        }


def to_pymatgen(structures: dict, index: int):
    """One crystal of a flat structure set as a pymatgen Structure."""
    a0, a1 = structures["atom_offsets"][index], structures["atom_offsets"][index + 1]
    return Structure(
        Lattice(structures["lattice"][index]),
        structures["atom_z"][a0:a1].astype(int),
        structures["positions"][a0:a1],
        coords_are_cartesian=True,
    )


def build_shard(*, structures_path, shard: int, shard_size: int, settings: GraphSettings, out_path) -> int:
    """Graph shard `shard` (crystals shard*size .. +size) of the ingested structures."""
    structures = read_structures(structures_path, start=shard * shard_size, stop=(shard + 1) * shard_size)
    write_graphs(out_path, build_graphs(structures, cutoff=settings.cutoff, max_neighbors=settings.max_neighbors))
    return len(structures["ids"])


def write_graphs(path, graphs: GraphSet) -> None:
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["cutoff"] = graphs.cutoff
            h5.attrs["max_neighbors"] = graphs.max_neighbors
            h5.attrs["feature_names"] = json.dumps(feature_names())
            h5.create_dataset("ids", data=np.array(graphs.ids, dtype=object), dtype=h5py.string_dtype())
            for name in GRAPH_ARRAYS:
                h5.create_dataset(name, data=getattr(graphs, name))
            h5.create_dataset("element_table", data=element_feature_table())


def read_graphs(path) -> GraphSet:
    with h5py.File(path, "r") as h5:
        version = int(h5.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: graph format version {version}, this code reads {FORMAT_VERSION}; rebuild the graphs")
        return GraphSet(
            [s.decode() if isinstance(s, bytes) else str(s) for s in h5["ids"][()]],
            *(h5[name][()] for name in GRAPH_ARRAYS),
            cutoff=float(h5.attrs["cutoff"]),
            max_neighbors=int(h5.attrs["max_neighbors"]),
        )


def concat(parts: list[GraphSet]) -> GraphSet:
    """One GraphSet from several shards (offsets rebased)."""
    if not parts:
        raise ValueError("no graph shards to concatenate")

    def rebase(key_offsets):
        out, base = [np.zeros(1, dtype=np.int64)], 0
        for g in parts:
            off = getattr(g, key_offsets)
            out.append(off[1:] + base)
            base += off[-1]
        return np.concatenate(out)

    return GraphSet(
        [i for g in parts for i in g.ids],
        np.concatenate([g.lattice for g in parts]),
        rebase("atom_offsets"),
        np.concatenate([g.atom_z for g in parts]),
        np.concatenate([g.positions for g in parts]),
        rebase("edge_offsets"),
        np.concatenate([g.edge_src for g in parts]),
        np.concatenate([g.edge_dst for g in parts]),
        np.concatenate([g.edge_dist for g in parts]),
        np.concatenate([g.edge_image for g in parts]),
        parts[0].cutoff,
        parts[0].max_neighbors,
    )
