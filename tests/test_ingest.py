import gzip
import io
import shutil

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure
from pymatgen.io.vasp import Vasprun

from advcgcnn.bandgap import OCCUPATION_METHOD
from advcgcnn.errors import IngestError
from advcgcnn.graphs import count_structures, read_structures, to_pymatgen
from advcgcnn.ingest import assign_labels, composition_numbers, find_duplicates, ingest, run_ingest
from advcgcnn.io import write_extxyz
from advcgcnn.parent import ParentSpec
from advcgcnn.sources import count_configurations
from advcgcnn.vasp import read_run

from .helpers import decorated_frames

ELEMENTS = ["Cs", "Sn", "Br", "I"]
COMMON = {"elements": ELEMENTS, "parent": ParentSpec()}
LABEL = {"metric": "sq_efficiency", "rule": "top_fraction", "threshold": 0.3, "top_fraction": 0.5}


def vasp_source(root):
    return {"kind": "vasp", "path": str(root), "require_converged": True}


def extxyz_source(path):
    return {
        "kind": "extxyz",
        "path": str(path),
        "gap_key": "band_gap",
        "direct_key": "band_gap_direct",
        "energy_key": "energy_per_atom",
    }


@pytest.fixture
def vasp_tree(tmp_path, vasp_fixtures):
    """The three real runs, one per folder, plus a deliberately truncated copy of one of them."""
    root = tmp_path / "vasp"
    for run in ("Cs2SnBr6", "Cs2SnI6_dos", "Cs2SnI6_optics"):
        (root / run).mkdir(parents=True)
        shutil.copy(vasp_fixtures / run / "vasprun.xml.gz", root / run)
    raw = gzip.open(vasp_fixtures / "Cs2SnI6_dos" / "vasprun.xml.gz").read()
    (root / "broken" / "truncated").mkdir(parents=True)
    (root / "broken" / "truncated" / "vasprun.xml").write_bytes(raw[: len(raw) // 2])
    return root


def test_flat_vasp_tree_gives_occupation_aware_gaps_and_slme(vasp_tree):
    labels, _, quarantine = ingest(source=vasp_source(vasp_tree), **COMMON, label=dict(LABEL, metric="slme"))
    labels = labels.set_index("id")
    assert sorted(labels.index) == ["Cs2SnBr6", "Cs2SnI6_dos", "Cs2SnI6_optics"]
    # The fixtures README's figures: smearing no longer counts nearly empty states as occupied.
    assert labels.loc["Cs2SnI6_dos", "band_gap"] == pytest.approx(0.7115, abs=1e-6)
    assert labels.loc["Cs2SnI6_optics", "band_gap"] == pytest.approx(0.916, abs=1e-6)
    assert labels.loc["Cs2SnBr6", "band_gap"] == pytest.approx(2.5408, abs=1e-6)
    assert set(labels["gap_method"]) == {OCCUPATION_METHOD}
    for cid in labels.index:
        run = Vasprun(str(vasp_tree / cid / "vasprun.xml.gz"), parse_potcar_file=False, parse_dos=False)
        assert labels.loc[cid, "energy_per_atom"] == pytest.approx(run.final_energy / len(run.final_structure))
    optics = labels.loc["Cs2SnI6_optics"]
    assert 0.0 < optics["slme"] < optics["sq_efficiency"]  # real absorber below the SQ limit
    assert optics["label_source"] == "slme" and optics["slme_run"] == "Cs2SnI6_optics/vasprun.xml.gz"
    assert np.isnan(labels.loc["Cs2SnI6_dos", "slme"])  # no dielectric function in a DOS run
    assert labels.loc["Cs2SnI6_dos", "label_source"] == "sq_efficiency"
    assert labels.loc["Cs2SnI6_dos", "x"] == 6 and labels.loc["Cs2SnBr6", "x"] == 0
    # One compound relaxed to another volume (8.44 against 8.17 A) is another calculation, not a copy.
    assert labels.loc["Cs2SnI6_optics", "formula"] == labels.loc["Cs2SnI6_dos", "formula"]

    assert quarantine["id"].tolist() == ["broken"]  # the configuration is the top-level folder
    assert "unparsable vasprun" in quarantine["reason"].iloc[0]
    assert quarantine["source_file"].iloc[0].endswith("broken/truncated/vasprun.xml")


def test_hybrid_band_structure_part_gets_the_calculation_gap(vasp_fixtures):
    path = vasp_fixtures / "Cs2SnI6_hse_bands_split1" / "vasprun.xml.gz"
    run = read_run(path, require_converged=True)
    assert run.role == "bands"  # zero-weight k-points
    assert run.edges.gap == pytest.approx(0.7115, abs=1e-6)
    legacy_gap = Vasprun(str(path), parse_potcar_file=False, parse_dos=False).eigenvalue_band_properties[0]
    assert legacy_gap == pytest.approx(0.0358, abs=1e-3)  # what the 1e-8 occupation tolerance reported


@pytest.fixture
def project_tree(tmp_path, vasp_fixtures):
    """A project as users keep it: per configuration a DOS run and a band-structure part; optics in another."""
    root = tmp_path / "project"
    layout = {
        "cs2sni6/dos": "Cs2SnI6_dos",
        "cs2sni6/bands/split-01": "Cs2SnI6_hse_bands_split1",
        "cs2sni6_large/optics": "Cs2SnI6_optics",
        "cs2snbr6/relax_optics": "Cs2SnBr6",
    }
    for folder, fixture in layout.items():
        (root / folder).mkdir(parents=True)
        shutil.copy(vasp_fixtures / fixture / "vasprun.xml.gz", root / folder)
    return root


def test_project_tree_groups_runs_into_configurations_with_roles(project_tree):
    labels, _, quarantine = ingest(source=vasp_source(project_tree), **COMMON, label=LABEL)
    assert quarantine.empty
    labels = labels.set_index("id")
    assert sorted(labels.index) == ["cs2snbr6", "cs2sni6", "cs2sni6_large"]
    grouped = labels.loc["cs2sni6"]
    assert grouped["band_gap"] == pytest.approx(0.7115, abs=1e-6)
    assert grouped["gap_run"] == "cs2sni6/bands/split-01/vasprun.xml.gz"  # the band structure beats the DOS run
    assert grouped["structure_run"] == grouped["energy_run"] == "cs2sni6/dos/vasprun.xml.gz"
    assert grouped["runs"] == "cs2sni6/bands/split-01/vasprun.xml.gz=bands; cs2sni6/dos/vasprun.xml.gz=static"
    assert labels.loc["cs2sni6_large", "band_gap"] == pytest.approx(0.916, abs=1e-6)
    assert labels.loc["cs2sni6_large", "gap_run"] == "cs2sni6_large/optics/vasprun.xml.gz"
    # A relaxation with LOPTICS is an optics run that also supplies the relaxed structure.
    assert labels.loc["cs2snbr6", "runs"] == "cs2snbr6/relax_optics/vasprun.xml.gz=optics"
    assert labels.loc["cs2snbr6", "structure_run"] == "cs2snbr6/relax_optics/vasprun.xml.gz"
    assert count_configurations(vasp_source(project_tree)) == 3


def test_runs_of_different_structures_in_one_folder_are_not_merged(project_tree):
    source = dict(vasp_source(project_tree), config_depth=0)  # the whole tree as one configuration
    labels, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    assert labels.empty
    (reason,) = quarantine["reason"]
    assert "hold different structures" in reason and "source.config_depth" in reason
    assert quarantine["id"].tolist() == ["project"]


def test_config_glob_and_runs_outside_it(project_tree):
    source = dict(vasp_source(project_tree), config_glob="cs2sni6*")
    labels, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    assert sorted(labels["id"]) == ["cs2sni6", "cs2sni6_large"]
    assert quarantine["id"].tolist() == ["cs2snbr6/relax_optics"]
    assert "outside every configuration folder" in quarantine["reason"].iloc[0]
    with pytest.raises(IngestError, match="config_glob"):
        ingest(source=dict(vasp_source(project_tree), config_glob="**"), **COMMON, label=LABEL)


def test_a_broken_band_structure_part_leaves_the_configuration_with_its_other_runs(project_tree):
    part = project_tree / "cs2sni6" / "bands" / "split-02" / "vasprun.xml"
    part.parent.mkdir(parents=True)
    part.write_text("<?xml version='1.0'?><modeling><generator>")
    labels, _, quarantine = ingest(source=vasp_source(project_tree), **COMMON, label=LABEL)
    row = labels.set_index("id").loc["cs2sni6"]
    assert "split-02/vasprun.xml=unknown (not used: unparsable vasprun" in row["runs"]
    assert row["gap_run"] == "cs2sni6/bands/split-01/vasprun.xml.gz"
    assert quarantine.empty


def test_every_input_is_ingested_or_quarantined(tmp_path):
    frames = decorated_frames(8)
    frames[1].info.pop("band_gap")
    frames[2].info["band_gap"] = float("nan")
    frames[3].symbols[0] = "Pb"  # element outside the configured set
    frames[4] = frames[5].copy()  # duplicate structure under another id
    frames[4].info["id"] = "copy_of_c005"
    frames[6].info["band_gap"] = 0.0  # metal
    path = tmp_path / "in.extxyz.gz"
    write_extxyz(path, frames)

    labels, _, quarantine = ingest(source=extxyz_source(path), **COMMON, label=LABEL)
    reasons = dict(zip(quarantine["id"], quarantine["reason"]))
    assert reasons["c001"] == "missing band gap"
    assert "NaN" in reasons["c002"]
    assert "Pb" in reasons["c003"]
    assert reasons["copy_of_c005"].startswith("duplicate arrangement of c005")  # equal energies: the first id is kept
    assert "metallic" in reasons["c006"]
    assert len(labels) + len(quarantine) == len(frames)
    assert set(labels["id"]).isdisjoint(quarantine["id"])


def test_zero_usable_configurations_is_a_clear_error(tmp_path):
    frames = decorated_frames(3)
    for f in frames:
        f.info.pop("band_gap")
    path = tmp_path / "in.extxyz"
    write_extxyz(path, frames)
    out = {k: tmp_path / f"{k}.out" for k in ("labels", "structures", "quarantine", "summary")}
    with pytest.raises(IngestError, match="no usable configurations"):
        run_ingest(source=extxyz_source(path), **COMMON, label=LABEL, **{f"{k}_out": v for k, v in out.items()})
    assert len(pd.read_csv(out["quarantine"])) == 3  # the reasons survive the failure


def test_run_ingest_writes_aligned_outputs(tmp_path):
    path = tmp_path / "in.extxyz.gz"
    write_extxyz(path, decorated_frames(10))
    out = [tmp_path / n for n in ("labels.csv", "structures.h5", "quarantine.csv", "summary.json")]
    run_ingest(
        source=extxyz_source(path),
        **COMMON,
        label=LABEL,
        labels_out=out[0],
        structures_out=out[1],
        quarantine_out=out[2],
        summary_out=out[3],
    )
    labels = pd.read_csv(out[0])
    structures = read_structures(out[1])
    assert structures["ids"] == labels["id"].tolist()
    assert count_structures(out[1]) == 10 == count_configurations(extxyz_source(path))
    assert labels["label"].sum() == 5
    assert (labels["power_density"] > 0).all()


def test_cgcnn_folder(tmp_path, cubic_cssnbr3):
    root = tmp_path / "cg"
    root.mkdir()
    s2 = cubic_cssnbr3.copy()
    s2.replace(2, "I")
    cubic_cssnbr3.to(filename=str(root / "a.cif"))
    s2.to(filename=str(root / "b.cif"))
    (root / "id_prop.csv").write_text("a,1.75\nb,1.6\nc,1.5\n")
    source = {
        "kind": "cgcnn",
        "path": str(root),
        "cgcnn_columns": ["id", "band_gap"],
        "gap_key": "band_gap",
        "energy_key": "energy_per_atom",
    }
    labels, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    assert labels["id"].tolist() == ["a", "b"]
    assert labels.set_index("id").loc["b", "x"] == pytest.approx(1.0)
    assert quarantine.to_dict("records")[0]["reason"] == "CIF file missing"
    assert count_configurations(source) == 3


def test_missing_source_names_the_path(tmp_path):
    with pytest.raises(IngestError, match="nothere.extxyz"):
        ingest(source=extxyz_source(tmp_path / "nothere.extxyz"), **COMMON, label=LABEL)


def test_label_rules():
    frame = pd.DataFrame({"id": list("abcd"), "sq_efficiency": [0.1, 0.4, 0.3, 0.2], "slme": [np.nan, 0.05, 0.35, np.nan]})
    top = assign_labels(frame, metric="sq_efficiency", rule="top_fraction", threshold=0.3, top_fraction=0.5)
    assert top["label"].tolist() == [0, 1, 1, 0]
    thr = assign_labels(frame, metric="sq_efficiency", rule="threshold", threshold=0.25, top_fraction=0.5)
    assert thr["label"].tolist() == [0, 1, 1, 0]
    slme = assign_labels(frame, metric="slme", rule="threshold", threshold=0.25, top_fraction=0.5)
    assert slme["label_source"].tolist() == ["sq_efficiency", "slme", "slme", "sq_efficiency"]
    assert slme["label"].tolist() == [0, 0, 1, 0]
    # A property where low is good (formation energy): class 1 is the lowest fraction.
    low = assign_labels(frame, metric="sq_efficiency", rule="top_fraction", threshold=0.0, top_fraction=0.25, direction="low")
    assert low["label"].tolist() == [1, 0, 0, 0]
    low_thr = assign_labels(frame, metric="sq_efficiency", rule="threshold", threshold=0.2, top_fraction=0.5, direction="low")
    assert low_thr["label"].tolist() == [1, 0, 0, 1]


def test_composition_numbers(cubic_cssnbr3):
    s = cubic_cssnbr3.copy()
    s.make_supercell(2)
    for i in range(4):
        s.replace(8 + 8 + i, "I")
    assert composition_numbers(s, host="Br", substituent="I") == {"n_sub": 4, "x": 0.5, "formula_units": 8}


def demo_frames(n):
    """The first `n` shipped demo cells (relaxed, each a distinct arrangement)."""
    from advcgcnn.io import read_extxyz

    from .conftest import DEMO_DATASET

    return read_extxyz(DEMO_DATASET)[:n]


def test_duplicates_by_arrangement_orbit(tmp_path, supercell_symmetry):
    from pymatgen.io.ase import AseAtomsAdaptor

    from advcgcnn.configspace import arrangement_mask, byte_tables
    from advcgcnn.parent import decorate

    frames = demo_frames(40)
    original = frames[30]
    jittered = original.copy()
    jittered.positions += np.random.default_rng(0).normal(0, 0.001, jittered.positions.shape)
    jittered.info = dict(original.info, id="jittered", energy_per_atom=original.info["energy_per_atom"] + 1e-4)
    # A symmetry-equivalent arrangement: the same orbit under another operation of the supercell.
    parent, perms = supercell_symmetry
    structure = AseAtomsAdaptor.get_structure(original)
    mask = arrangement_mask(structure, parent=parent, parent_grid=4)
    image = int(np.nonzero([int(m) != mask for m in _images(mask, byte_tables(perms))])[0][0])
    image_mask = int(_images(mask, byte_tables(perms))[image])
    equivalent = AseAtomsAdaptor.get_atoms(decorate(parent, image_mask, lattice_constant=6.0))
    equivalent.info = {"id": "equivalent", "band_gap": 1.5, "energy_per_atom": original.info["energy_per_atom"] + 0.01}
    # An origin shifted by a whole B-B distance is still the same arrangement.
    shifted = original.copy()
    shifted.positions += original.cell[0] / 2
    shifted.wrap()
    shifted.info = dict(original.info, id="shifted", energy_per_atom=original.info["energy_per_atom"] + 2e-4)
    path = tmp_path / "in.extxyz"
    write_extxyz(path, [*frames, jittered, equivalent, shifted])
    labels, _, quarantine = ingest(source=extxyz_source(path), **COMMON, label=LABEL)
    reasons = dict(zip(quarantine["id"], quarantine["reason"]))
    kept = original.info["id"]
    for copy in ("jittered", "equivalent", "shifted"):
        assert reasons[copy].startswith(f"duplicate arrangement of {kept} (orbit_"), copy
    assert kept in set(labels["id"]) and len(labels) == 40
    assert labels["orbit"].str.startswith("orbit_").all() and labels["orbit"].is_unique


def _images(mask, tables):
    from advcgcnn.configspace import apply_permutations

    return apply_permutations(mask, tables=tables)


def test_lowest_energy_copy_is_kept_and_only_usable_entries_are_originals(tmp_path):
    frames = demo_frames(6)
    low = frames[3].copy()
    low.info = dict(frames[3].info, id="zz_lower_energy", energy_per_atom=frames[3].info["energy_per_atom"] - 0.01)
    broken = frames[4].copy()
    broken.info = dict(frames[4].info, id="aa_no_gap")
    broken.info.pop("band_gap")
    path = tmp_path / "in.extxyz"
    write_extxyz(path, [*frames, low, broken])
    labels, _, quarantine = ingest(source=extxyz_source(path), **COMMON, label=LABEL)
    reasons = dict(zip(quarantine["id"], quarantine["reason"]))
    assert reasons[frames[3].info["id"]].startswith("duplicate arrangement of zz_lower_energy")
    assert reasons["aa_no_gap"] == "missing band gap"  # not the original of frames[4]
    assert frames[4].info["id"] in set(labels["id"])


def test_off_lattice_duplicates_use_structure_matching(tmp_path, vasp_fixtures):
    root = tmp_path / "vasp"
    for name in ("a", "b_copy"):
        (root / name).mkdir(parents=True)
        shutil.copy(vasp_fixtures / "Cs2SnI6_dos" / "vasprun.xml.gz", root / name)
    labels, structures, quarantine = ingest(source=vasp_source(root), **COMMON, label=LABEL)
    assert labels["id"].tolist() == ["a"] and labels["orbit"].tolist() == [""]  # not an arrangement of the parent
    assert quarantine["reason"].tolist() == ["duplicate structure of a (StructureMatcher; the lower-energy copy is kept)"]

    structure = to_pymatgen(structures, 0)
    noise = np.random.default_rng(1).normal(0, 0.001, (len(structure), 3))
    jittered = Structure(structure.lattice, structure.species, structure.cart_coords + noise, coords_are_cartesian=True)
    strained = structure.copy()
    strained.scale_lattice(structure.volume * 1.10)
    table = pd.DataFrame({"id": ["a", "b", "c"], "orbit": "", "formula": "Cs2SnI6", "energy_per_atom": [-3.0, -3.1, -3.0]})
    reasons = find_duplicates(table, structure_of=[structure, jittered, strained].__getitem__, n_sites=24)
    assert reasons == {"a": "duplicate structure of b (StructureMatcher; the lower-energy copy is kept)"}


def test_no_orbit_straddles_folds():
    from advcgcnn.folds import stratified_folds

    rng = np.random.default_rng(0)
    labels = pd.DataFrame(
        {"id": [f"c{i}" for i in range(60)], "label": rng.integers(0, 2, 60), "orbit": [f"orbit_{i // 3:02x}" for i in range(60)]}
    )
    folds = stratified_folds(labels=labels, n_folds=5, seeds=[0, 1])
    merged = folds.merge(labels, on="id")
    assert (merged.groupby(["seed", "orbit"])["fold"].nunique() == 1).all()
    # Distinct orbits (what ingestion writes): the same splits as plain stratified K-fold.
    unique = labels.assign(orbit=[f"orbit_{i:02x}" for i in range(60)])
    plain = stratified_folds(labels=unique.drop(columns="orbit"), n_folds=5, seeds=[0])
    assert stratified_folds(labels=unique, n_folds=5, seeds=[0]).equals(plain)


def test_chunked_ingestion_equals_one_pass(tmp_path):
    from advcgcnn.ingest import run_chunk

    path = tmp_path / "in.extxyz.gz"
    frames = demo_frames(23)
    frames[7].info.pop("band_gap")
    write_extxyz(path, frames)
    source = dict(extxyz_source(path), chunk_size=10)
    chunks = []
    for k in range(3):
        files = {kind: tmp_path / f"c{k}.{kind}" for kind in ("structures", "entries", "rejected")}
        run_chunk(
            source=source,
            **COMMON,
            chunk=k,
            n_chunks=3,
            structures_out=files["structures"],
            entries_out=files["entries"],
            rejected_out=files["rejected"],
        )
        chunks.append(files)
    outs = {k: tmp_path / f"merged.{k}" for k in ("labels", "structures", "quarantine", "summary")}
    run_ingest(chunks=chunks, source=source, **COMMON, label=LABEL, **{f"{k}_out": v for k, v in outs.items()})
    one_pass, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    merged = pd.read_csv(outs["labels"])
    assert read_structures(outs["structures"])["ids"] == merged["id"].tolist()
    pd.testing.assert_frame_equal(merged, pd.read_csv(io.StringIO(one_pass.to_csv(index=False))))
    assert pd.read_csv(outs["quarantine"])["id"].tolist() == quarantine["id"].tolist() == [frames[7].info["id"]]


@pytest.mark.parametrize("damage", ["truncated", "bad_header"])
def test_broken_extxyz_is_counted_and_reported_not_raised(tmp_path, damage):
    frames = demo_frames(4)
    plain = tmp_path / "ok.extxyz"
    write_extxyz(plain, frames)
    text = plain.read_text()
    lines = text.splitlines(keepends=True)
    if damage == "truncated":
        broken = "".join(lines[: len(lines) - 5])  # the last frame loses its last atoms
    else:
        broken = "".join(lines[:84]) + "forty\n" + "".join(lines[85:])  # frame 2's atom count is not a number
    path = tmp_path / "broken.extxyz"
    path.write_text(broken)
    source = extxyz_source(path)
    count = count_configurations(source)  # what rules/common.smk calls while the DAG is built
    labels, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    assert len(labels) == (3 if damage == "truncated" else 2)
    assert count == len(labels) + 1
    (where, reason) = quarantine[["source_file", "reason"]].iloc[0]
    assert where.startswith(str(path)) and "unreadable extxyz frame" in reason
    assert ("truncated" in reason) if damage == "truncated" else ("'forty'" in reason)


def test_ase_database_with_keys_and_extra_metric(tmp_path):
    from ase.db import connect

    frames = demo_frames(6)
    db_path = tmp_path / "runs.db"
    with connect(str(db_path)) as db:
        for i, atoms in enumerate(frames):
            db.write(atoms, name=atoms.info["id"], band_gap=atoms.info["band_gap"], e_form=-0.1 * i)
    source = {**extxyz_source(db_path), "kind": "ase", "id_key": "name", "extra_keys": ["e_form"], "chunk_size": 4}
    assert count_configurations(source) == 6
    label = dict(LABEL, metric="e_form", direction="low", top_fraction=0.5)
    labels, _, _ = ingest(source=source, **COMMON, label=label)
    assert labels["id"].tolist() == [f.info["id"] for f in frames]
    assert labels["label"].tolist() == [0, 0, 0, 1, 1, 1]  # the most negative formation energies
    assert (labels["label_source"] == "e_form").all()
    assert np.allclose(labels["band_gap"], [f.info["band_gap"] for f in frames])
    from advcgcnn.ingest import read_entries

    second, _ = read_entries(source, start=4, stop=None)  # a chunk reads only its rows
    assert [e.id for e in second] == [f.info["id"] for f in frames[4:]]


def test_ase_reads_dft_outputs_with_eigenvalues(tmp_path, vasp_fixtures):
    root = tmp_path / "outputs"
    for name in ("Cs2SnI6_dos", "Cs2SnI6_optics"):
        (root / name).mkdir(parents=True)
        shutil.copy(vasp_fixtures / name / "vasprun.xml.gz", root / name)
    (root / "broken").mkdir()
    (root / "broken" / "vasprun.xml.gz").write_bytes(b"not gzip")
    source = {**extxyz_source(root), "kind": "ase", "pattern": "*/vasprun.xml.gz", "ase_format": "vasp-xml"}
    labels, _, quarantine = ingest(source=source, **COMMON, label=LABEL)
    gaps = labels.set_index("id")["band_gap"]
    assert gaps["Cs2SnI6_dos"] == pytest.approx(0.7115, abs=1e-6)  # ASE's calculator, occupations split at 1/2
    assert gaps["Cs2SnI6_optics"] == pytest.approx(0.916, abs=1e-6)
    assert set(labels["gap_method"]) == {OCCUPATION_METHOD}
    assert quarantine["id"].tolist() == ["broken"] and "unreadable by ASE" in quarantine["reason"].iloc[0]


def test_unknown_label_metric_is_quarantined_with_its_name(tmp_path):
    path = tmp_path / "in.extxyz"
    write_extxyz(path, demo_frames(3))
    labels, _, quarantine = ingest(source=extxyz_source(path), **COMMON, label=dict(LABEL, metric="nonexistent"))
    assert labels.empty
    assert set(quarantine["reason"]) == {"no value for label.metric 'nonexistent'"}
