import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from advcgcnn.errors import IngestError
from advcgcnn.graphs import count_structures, read_structures
from advcgcnn.ingest import assign_labels, composition_numbers, count_inputs, ingest, run_ingest
from advcgcnn.io import write_extxyz

from .helpers import decorated_frames

ELEMENTS = ["Cs", "Sn", "Br", "I"]
MIXING = {"host": "Br", "substituent": "I"}
COMMON = {"elements": ELEMENTS, **MIXING}
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
    """The three real runs plus a deliberately truncated copy of one of them."""
    root = tmp_path / "vasp"
    for run in ("Cs2SnBr6", "Cs2SnI6_dos", "Cs2SnI6_optics"):
        (root / run).mkdir(parents=True)
        shutil.copy(vasp_fixtures / run / "vasprun.xml.gz", root / run)
    raw = gzip.open(vasp_fixtures / "Cs2SnI6_dos" / "vasprun.xml.gz").read()
    (root / "broken" / "truncated").mkdir(parents=True)
    (root / "broken" / "truncated" / "vasprun.xml").write_bytes(raw[: len(raw) // 2])
    return root


def test_vasp_gaps_equal_pymatgen_and_optics_gives_slme(vasp_tree):
    from pymatgen.io.vasp import Vasprun

    labels, _, quarantine = ingest(source=vasp_source(vasp_tree), **COMMON, label=dict(LABEL, metric="slme"))
    labels = labels.set_index("id")
    assert sorted(labels.index) == ["Cs2SnBr6", "Cs2SnI6_dos", "Cs2SnI6_optics"]
    for cid in labels.index:
        run = Vasprun(str(vasp_tree / cid / "vasprun.xml.gz"), parse_potcar_file=False)
        gap, _, _, direct = run.eigenvalue_band_properties
        assert labels.loc[cid, "band_gap"] == pytest.approx(gap, abs=1e-9)
        assert bool(labels.loc[cid, "gap_direct"]) == bool(direct)
        assert labels.loc[cid, "energy_per_atom"] == pytest.approx(run.final_energy / len(run.final_structure))
    optics = labels.loc["Cs2SnI6_optics"]
    assert 0.0 < optics["slme"] < optics["sq_efficiency"]  # real absorber below the SQ limit
    assert optics["efficiency_source"] == "slme"
    assert np.isnan(labels.loc["Cs2SnI6_dos", "slme"])  # no dielectric function in a DOS run
    assert labels.loc["Cs2SnI6_dos", "efficiency_source"] == "sq"
    assert labels.loc["Cs2SnI6_dos", "x"] == 6 and labels.loc["Cs2SnBr6", "x"] == 0

    assert quarantine["id"].tolist() == ["broken/truncated"]
    assert "unparsable vasprun" in quarantine["reason"].iloc[0]
    assert quarantine["source_file"].iloc[0].endswith("broken/truncated/vasprun.xml")


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
    assert reasons["c005"].startswith("duplicate structure of copy_of_c005") or reasons.get("copy_of_c005", "").startswith(
        "duplicate structure of c005"
    )
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
    assert count_structures(out[1]) == 10 == count_inputs(extxyz_source(path))
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
    assert count_inputs(source) == 3


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
    assert slme["efficiency_source"].tolist() == ["sq", "slme", "slme", "sq"]
    assert slme["label"].tolist() == [0, 0, 1, 0]


def test_composition_numbers(cubic_cssnbr3):
    s = cubic_cssnbr3.copy()
    s.make_supercell(2)
    for i in range(4):
        s.replace(8 + 8 + i, "I")
    assert composition_numbers(s, host="Br", substituent="I") == {"n_sub": 4, "x": 0.5, "formula_units": 8}
