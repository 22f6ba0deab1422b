from math import comb

import numpy as np
import pytest

from advcgcnn.configspace import (
    apply_permutations,
    burnside_orbit_counts,
    byte_tables,
    enumerate_orbits,
    sample_orbits,
)
from advcgcnn.parent import decorate


@pytest.fixture(scope="module")
def space(supercell_symmetry):
    parent, perms = supercell_symmetry
    return parent, perms, enumerate_orbits(perms)


def test_supercell_group_has_384_operations(space):
    _, perms, _ = space
    # Pm-3m point group (48) times the 8 lattice translations of the 2x2x2 cell.
    assert perms.shape == (384, 24)


def test_single_substituent_has_one_orbit_of_24(space):
    _, _, orbits = space
    one = orbits["n_sub"] == 1
    assert one.sum() == 1
    assert orbits["multiplicity"][one].tolist() == [24]


def test_end_members_have_one_orbit_each(space):
    _, _, orbits = space
    for n in (0, 24):
        assert (orbits["n_sub"] == n).sum() == 1
        assert orbits["multiplicity"][orbits["n_sub"] == n].tolist() == [1]


def test_orbit_counts_agree_with_burnside(space):
    _, perms, orbits = space
    counts = np.bincount(orbits["n_sub"], minlength=25)
    assert counts.tolist() == burnside_orbit_counts(perms).tolist()
    # Two I atoms: the 7 distinct pair distances/relations on the X sublattice.
    assert counts[2] == 7


def test_multiplicities_cover_every_arrangement(space):
    _, _, orbits = space
    for n in range(25):
        assert orbits["multiplicity"][orbits["n_sub"] == n].sum() == comb(24, n)


def test_representative_is_smallest_member(space):
    _, perms, orbits = space
    tables = byte_tables(perms)
    for mask in orbits["mask"][::997]:
        assert apply_permutations(int(mask), tables=tables).min() == mask


def test_sampling_is_seeded_and_capped(space):
    _, _, orbits = space
    a = sample_orbits(orbits, per_count=5, seed=1)
    b = sample_orbits(orbits, per_count=5, seed=1)
    c = sample_orbits(orbits, per_count=5, seed=2)
    assert np.array_equal(a["mask"], b["mask"])
    assert not np.array_equal(a["mask"], c["mask"])
    per_n = np.bincount(a["n_sub"], minlength=25)
    assert per_n[0] == 1 and per_n[2] == 5 and per_n.max() == 5


def test_decorate_places_substituent(space):
    parent, _, _ = space
    s = decorate(parent, 0b1011, lattice_constant=6.0)
    assert s.composition["I"] == 3 and s.composition["Br"] == 21
    assert s.lattice.a == pytest.approx(12.0)
