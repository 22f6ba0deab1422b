"""The demo-dataset generator (CHGNet relaxation + GFN1-xTB gap) on two tiny runs."""

import json

import pandas as pd
import pytest

from advcgcnn import demo
from advcgcnn.io import read_extxyz
from advcgcnn.labelling import Protocol
from advcgcnn.parent import ParentSpec

from .conftest import DEMO_DATASET


@pytest.mark.slow
def test_generator_on_the_two_end_members(tmp_path):
    pytest.importorskip("chgnet")
    pytest.importorskip("tblite")
    plan = pd.DataFrame({"mask": [0, (1 << 24) - 1], "n_I": [0, 24], "multiplicity": [1, 1], "n_sites": 24, "chunk": 0})
    plan.to_csv(tmp_path / "plan.csv", index=False)
    protocol = Protocol(max_steps=60)
    spec = ParentSpec()
    demo.label_chunk_file(
        plan_path=tmp_path / "plan.csv",
        chunk=0,
        spec=spec,
        protocol=protocol,
        frames_out=tmp_path / "c.extxyz.gz",
        records_out=tmp_path / "c.csv",
    )
    demo.assemble(
        frame_paths=[tmp_path / "c.extxyz.gz"],
        record_paths=[tmp_path / "c.csv"],
        spec=spec,
        protocol=protocol,
        settings={"seed": 0, "experimental_gaps": {"host": 1.75, "substituent": 1.30}},
        dataset_out=tmp_path / "d.extxyz.gz",
        provenance_out=tmp_path / "p.json",
    )
    frames = read_extxyz(tmp_path / "d.extxyz.gz")
    assert [f.info["n_I"] for f in frames] == [0, 24]
    assert [len(f) for f in frames] == [40, 40]
    provenance = json.loads((tmp_path / "p.json").read_text())
    raw = provenance["sanity_checks"]["end_members_raw_gap_eV"]
    assert raw["CsSnBr3"] > raw["CsSnI3"] > 0.3  # bromide gap above iodide, both semiconducting
    # The calibration maps the end members exactly onto experiment.
    assert frames[0].info["band_gap"] == pytest.approx(1.75)
    assert frames[1].info["band_gap"] == pytest.approx(1.30)
    assert provenance["tool_versions"]["chgnet"] and provenance["protocol"]["max_steps"] == 60


def test_shipped_dataset_matches_its_provenance():
    provenance = json.loads((DEMO_DATASET.parent / "provenance.json").read_text())
    frames = read_extxyz(DEMO_DATASET)
    assert len(frames) == provenance["n_configurations"] >= 300
    checks = provenance["sanity_checks"]
    assert checks["end_members_order_correct"]
    assert {f.info["n_I"] for f in frames} == set(range(25))  # every composition present
    for f in frames:
        assert f.info["framework_intact"] and f.info["relax_converged"]
        assert f.info["band_gap"] == pytest.approx(
            provenance["calibration"]["intercept"] + provenance["calibration"]["slope"] * f.info["gap_gfn1_raw"]
        )
