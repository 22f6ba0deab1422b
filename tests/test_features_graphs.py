import h5py
import numpy as np
import pytest

from advcgcnn.features import element_feature_table, feature_names, neighbour_edges, structure_arrays
from advcgcnn.graphs import (
    FORMAT_VERSION,
    GraphSettings,
    build_graphs,
    build_shard,
    concat,
    read_graphs,
    write_graphs,
    write_structures,
)


def edges_of(structure, cutoff=8.0, max_neighbors=12):
    a = structure_arrays(structure)
    return neighbour_edges(a["lattice"], a["cart"], cutoff=cutoff, max_neighbors=max_neighbors)


def test_cubic_cssnbr3_neighbours_by_hand(cubic_cssnbr3):
    a = 5.80
    e = edges_of(cubic_cssnbr3)
    assert np.bincount(e["src"]).tolist() == [12] * 5  # capped at 12 per atom
    cs, sn = 0, 1
    # Cs sits at the cube centre: 12 Br at a/sqrt(2), nothing closer.
    cs_d = e["dist"][e["src"] == cs]
    assert np.allclose(cs_d, a / np.sqrt(2), atol=1e-5)
    assert {cubic_cssnbr3[j].specie.symbol for j in e["dst"][e["src"] == cs]} == {"Br"}
    # Sn: 6 Br at a/2 (the octahedron), then Cs at a*sqrt(3)/2.
    sn_d = np.sort(e["dist"][e["src"] == sn])
    assert np.allclose(sn_d[:6], a / 2, atol=1e-5)
    assert np.allclose(sn_d[6:], a * np.sqrt(3) / 2, atol=1e-5)


def test_cutoff_limits_neighbours(cubic_cssnbr3):
    e = edges_of(cubic_cssnbr3, cutoff=3.0)
    # Within 3 A only the Sn-Br bonds (2.9 A) survive: 6 for Sn, 2 for each Br.
    assert np.bincount(e["src"], minlength=5).tolist() == [0, 6, 2, 2, 2]


def test_neighbour_list_is_deterministic_under_ties(cubic_cssnbr3):
    e1, e2 = edges_of(cubic_cssnbr3), edges_of(cubic_cssnbr3)
    for k in e1:
        assert np.array_equal(e1[k], e2[k])


def test_image_offsets_reproduce_distances(cubic_cssnbr3):
    s = cubic_cssnbr3.copy()
    s.perturb(0.1, min_distance=0.05)
    e = edges_of(s)
    vec = s.cart_coords[e["dst"]] + e["image"] @ s.lattice.matrix - s.cart_coords[e["src"]]
    assert np.allclose(np.linalg.norm(vec, axis=1), e["dist"], atol=1e-4)


def test_atom_features_one_hot_groups():
    table = element_feature_table()
    names = feature_names()
    assert table.shape == (101, len(names))
    cs = dict(zip(names, table[55]))
    assert cs["group_1"] == 1 and cs["period_6"] == 1 and cs["block_s"] == 1 and cs["valence_1"] == 1
    sn = dict(zip(names, table[50]))
    assert sn["group_14"] == 1 and sn["period_5"] == 1 and sn["block_p"] == 1 and sn["valence_4"] == 1
    # Every element has exactly one bin set in each one-hot family that it has data for.
    assert table[[35, 53, 50, 55]].sum(axis=1).tolist() == [9.0] * 4
    assert not np.array_equal(table[35], table[53])  # Br and I differ


def test_hdf5_round_trip_and_shards(tmp_path, cubic_cssnbr3):
    structures = []
    for i in range(5):
        s = cubic_cssnbr3.copy()
        s.make_supercell([1, 1, 1 + i % 2])
        s.perturb(0.05)
        structures.append(s)
    ids = [f"s{i}" for i in range(5)]
    write_structures(tmp_path / "structures.h5", ids=ids, structures=structures)
    for shard in range(3):
        build_shard(
            structures_path=tmp_path / "structures.h5",
            shard=shard,
            shard_size=2,
            settings=GraphSettings(cutoff=6.0, max_neighbors=12),
            out_path=tmp_path / f"shard_{shard}.h5",
        )
    merged = concat([read_graphs(tmp_path / f"shard_{k}.h5") for k in range(3)])
    assert merged.ids == ids
    for c, s in enumerate(structures):
        e0, e1 = merged.edge_offsets[c], merged.edge_offsets[c + 1]
        ref = edges_of(s, 6.0, 12)
        assert np.array_equal(merged.edge_src[e0:e1], ref["src"])
        assert np.allclose(merged.edge_dist[e0:e1], ref["dist"])
        a0, a1 = merged.atom_offsets[c], merged.atom_offsets[c + 1]
        assert np.array_equal(merged.atom_z[a0:a1], s.atomic_numbers)
    with h5py.File(tmp_path / "shard_0.h5") as h5:
        assert h5.attrs["format_version"] == FORMAT_VERSION
        assert h5.attrs["cutoff"] == 6.0 and h5.attrs["max_neighbors"] == 12
        assert "edge_dist" in h5 and h5["edge_dist"].ndim == 1  # flat, no padding


def test_reading_other_format_version_fails_clearly(tmp_path, cubic_cssnbr3):
    from advcgcnn.graphs import read_structures

    write_structures(tmp_path / "s.h5", ids=["a"], structures=[cubic_cssnbr3])
    g = build_graphs(read_structures(tmp_path / "s.h5"), cutoff=6.0, max_neighbors=12)
    write_graphs(tmp_path / "g.h5", g)
    with h5py.File(tmp_path / "g.h5", "a") as h5:
        h5.attrs["format_version"] = 99
    with pytest.raises(ValueError, match="rebuild the graphs"):
        read_graphs(tmp_path / "g.h5")


def test_short_first_search_equals_full_cutoff_search(cubic_cssnbr3):
    from pymatgen.core import Lattice, Structure

    from advcgcnn.features import _search, select_nearest

    rng = np.random.default_rng(0)
    cluster = rng.uniform(-1.5, 1.5, size=(20, 3))
    # A dense cluster at the corners and one lone atom in the middle: the lone
    # atom has nobody within the density-based first radius, so the search repeats.
    lone = Structure(Lattice.cubic(10.0), ["Cs"] * 20 + ["I"], np.vstack([cluster, [[5, 5, 5]]]), coords_are_cartesian=True)
    for s in (lone, cubic_cssnbr3):
        got = edges_of(s, cutoff=9.0)
        cart, lattice = np.ascontiguousarray(s.cart_coords), np.ascontiguousarray(s.lattice.matrix)
        src, dst, image, dist = _search(lattice, cart, 9.0)
        ref = select_nearest(src=src, dst=dst, dist=dist, image=image, max_neighbors=12)
        assert np.array_equal(got["src"], ref[0]) and np.array_equal(got["dst"], ref[1])
        assert np.allclose(got["dist"], ref[2], atol=1e-6)
    assert np.bincount(edges_of(lone, cutoff=9.0)["src"]).tolist() == [12] * 21
