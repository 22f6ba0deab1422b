import numpy as np
import pytest

from advcgcnn.features import neighbour_edges
from advcgcnn.graphs import build_graphs, read_structures, write_structures
from advcgcnn.perturb import CandidatePairs, displace, perturbed_graphs

from .helpers import decorated_frames


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    from pymatgen.io.ase import AseAtomsAdaptor

    path = tmp_path_factory.mktemp("p") / "s.h5"
    frames = decorated_frames(12, seed=5, rattle=0.02)
    write_structures(path, ids=[f.info["id"] for f in frames], structures=[AseAtomsAdaptor.get_structure(f) for f in frames])
    return build_graphs(read_structures(path), cutoff=8.0, max_neighbors=12)


def assert_equals_fresh_search(g):
    for c in range(len(g)):
        a0, a1 = g.atom_offsets[c], g.atom_offsets[c + 1]
        e0, e1 = g.edge_offsets[c], g.edge_offsets[c + 1]
        ref = neighbour_edges(g.lattice[c], g.positions[a0:a1], cutoff=g.cutoff, max_neighbors=g.max_neighbors)
        assert np.array_equal(g.edge_src[e0:e1], ref["src"])
        assert np.array_equal(g.edge_dst[e0:e1], ref["dst"])
        assert np.array_equal(g.edge_image[e0:e1], ref["image"])
        assert np.allclose(g.edge_dist[e0:e1], ref["dist"], atol=1e-5)


@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.3])
def test_bulk_rebuild_equals_per_crystal_search(graphs, sigma):
    g = perturbed_graphs(graphs, sigma=sigma, seed=1)
    assert not np.allclose(g.positions, graphs.positions)
    assert np.array_equal(g.lattice, graphs.lattice)  # the cell is fixed
    assert_equals_fresh_search(g)


def test_fallback_when_atoms_move_beyond_the_skin(graphs):
    candidates = CandidatePairs(graphs, max_shift=0.05)
    g, fallbacks = candidates.rebuild(displace(graphs.positions, sigma=0.1, seed=2))
    assert fallbacks > 0
    assert_equals_fresh_search(g)


def test_displacement_is_seeded_and_scaled(graphs):
    a = displace(graphs.positions, sigma=0.1, seed=3)
    b = displace(graphs.positions, sigma=0.1, seed=3)
    c = displace(graphs.positions, sigma=0.1, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.std(a - graphs.positions) == pytest.approx(0.1, rel=0.05)
    assert perturbed_graphs(graphs, sigma=0.0, seed=3) is graphs
