"""One `parent:` section: validated at start, read by enumeration, descriptors and screening alike."""

import numpy as np
import pandas as pd
import pytest

from advcgcnn.configspace import enumerate_orbits, site_permutations, write_orbits
from advcgcnn.descriptors import describe
from advcgcnn.errors import ConfigError
from advcgcnn.parent import ParentSpec, decorate

from .conftest import DEMO_DATASET
from .test_workflow import failing_snakemake, snakemake

ELEMENTS = ["Cs", "Sn", "Br", "I"]


def test_defaults_are_the_cssnbr3_xix_supercell():
    spec = ParentSpec.from_config({}, elements=ELEMENTS)
    assert spec == ParentSpec()
    parent = spec.build()
    assert parent.structure.composition.reduced_formula == "CsSnBr3" and len(parent.structure) == 40
    assert len(parent.sublattice) == spec.n_sites == 24 and spec.parent_grid == 4
    assert parent.structure.lattice.a == pytest.approx(2 * 5.80)
    assert spec.vegard_lattice_constant(substituent_fraction=0.5) == pytest.approx(6.01)


@pytest.mark.parametrize(
    ("section", "elements", "key"),
    [
        ({"b_site": "Pb"}, ELEMENTS, "parent.b_site"),  # Pb not among the allowed elements
        ({"substituent": "Br"}, ELEMENTS, "parent.substituent"),  # nothing would be mixed
        ({"host": "Xx"}, ELEMENTS + ["Xx"], "parent.host"),  # not an element
        ({"supercell": 3}, ELEMENTS, "parent.supercell"),  # 81 mixed sites: too many to enumerate
        ({"lattice": "spinel"}, ELEMENTS, "parent.lattice"),
        ({"lattice_constants": {"host": -1.0}}, ELEMENTS, "parent.lattice_constants.host"),
    ],
)
def test_an_inconsistent_section_names_its_key(section, elements, key):
    with pytest.raises(ConfigError, match=f"config {key}:"):
        ParentSpec.from_config(section, elements=elements)


def test_another_alloy_enumerates_its_own_arrangements(tmp_path):
    spec = ParentSpec.from_config({"b_site": "Pb", "supercell": 1}, elements=["Cs", "Pb", "Br", "I"])
    parent = spec.build()
    assert parent.structure.composition.reduced_formula == "CsPbBr3"
    orbits = enumerate_orbits(site_permutations(parent))
    # Three X sites of one cubic cell: all arrangements of n I are equivalent.
    assert orbits["n_sub"].tolist() == [0, 1, 2, 3] and orbits["multiplicity"].tolist() == [1, 3, 3, 1]
    write_orbits(path=tmp_path / "orbits.csv.gz", spec=spec, log=lambda _: None)
    assert pd.read_csv(tmp_path / "orbits.csv.gz")["multiplicity"].tolist() == [1, 3, 3, 1]
    # Descriptors read the B site from the same spec: Pb octahedra are found.
    cell = decorate(parent, 0b001)
    assert describe(cell, parent=spec)["bond_length_deviation"] == pytest.approx(0.0, abs=1e-9)


def test_the_workflow_enumerates_the_configured_alloy(tmp_path):
    alloy = {
        "source": {"path": str(DEMO_DATASET)},
        "elements": ["Cs", "Pb", "Br", "I"],
        "parent": {"b_site": "Pb", "supercell": 1},
    }
    snakemake(tmp_path, "--cores", "1", "results/configspace/orbits.csv.gz", config=alloy)
    orbits = pd.read_csv(tmp_path / "results/configspace/orbits.csv.gz")
    assert np.array_equal(orbits["multiplicity"], [1, 3, 3, 1])
    assert "CsPb(Br,I)3, 1x1x1 cell" in (tmp_path / "results/logs/configspace.log").read_text()


def test_an_inconsistent_parent_stops_the_workflow_at_start(tmp_path):
    output = failing_snakemake(tmp_path, "all", {"source": {"path": str(DEMO_DATASET)}, "parent": {"b_site": "Pb"}})
    assert "config parent.b_site: Pb is not in the config's elements" in output
    assert not (tmp_path / "results").exists()  # stopped before any job
