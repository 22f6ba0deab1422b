"""Verdicts come from one module, at one significance level that every stage is given."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from advcgcnn.io import read_json
from advcgcnn.sweep import aggregate_curve
from advcgcnn.verdicts import CONTRADICTED, NOT_SUPPORTED, SUPPORTED, accuracy_trend, claim_accuracy_falls, compute_claims

from .conftest import REPO
from .test_screening_report import write_run_files


def write_sweep_metrics(root, rng):
    """Fold accuracies that fall slightly with sigma: a trend with 1e-6 < p < 0.05."""
    paths = []
    for sigma, mean in ((0.0, 0.80), (0.1, 0.78), (0.2, 0.76), (0.3, 0.75)):
        for seed in (0, 1):
            folds = [
                {"fold": k, "accuracy": mean + 0.03 * rng.standard_normal(), "balanced_accuracy": 0.5, "roc_auc": 0.5, "f1": 0.5}
                for k in range(5)
            ]
            path = root / f"train_{sigma}_{seed}.json"
            path.write_text(json.dumps({"mode": "train", "sigma": sigma, "seed": seed, "folds": folds}))
            paths.append(str(path))
    return paths


def test_the_config_sets_one_level_for_trend_and_claims():
    schema = yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert schema["properties"]["verdicts"]["properties"]["alpha"]["default"] == config["verdicts"]["alpha"]
    rules = (REPO / "rules/common.smk").read_text()
    assert 'ALPHA = config["verdicts"]["alpha"]' in rules
    for rule_file, rule in (("perturb", "aggregate_sweep"), ("interpret", "power_density"), ("report", "report_html")):
        text = (REPO / f"rules/{rule_file}.smk").read_text()
        block = text[text.index(f"rule {rule}:") :]
        assert "alpha=ALPHA" in block.split("\nrule ")[0], rule


def test_changing_the_level_changes_trend_json_and_claims_json_alike(tmp_path):
    paths = write_sweep_metrics(tmp_path, np.random.default_rng(1))
    files = write_run_files(tmp_path)
    verdicts = {}
    for alpha in (0.05, 1e-6):
        out = tmp_path / f"alpha{alpha}"
        out.mkdir()
        aggregate_curve(
            metrics_paths=paths,
            alpha=alpha,
            curve_out=out / "curve.csv",
            trend_out=out / "trend.json",
            figure_out=out / "curve.png",
        )
        trend = read_json(out / "trend.json")
        files["trend"] = out / "trend.json"
        claims = compute_claims(files=files, alpha=alpha, unequal_atoms="n_unequal_atoms_arrangement", n_boot=200, seed=0)
        verdicts[alpha] = (trend["train"]["falls_with_sigma"], {c["id"]: c["verdict"] for c in claims}["b"])
    p = trend["train"]["p_value"]
    assert 1e-6 < p < 0.05, p  # the data sit between the two levels
    assert verdicts[0.05] == (True, SUPPORTED)
    assert verdicts[1e-6] == (False, NOT_SUPPORTED)  # not significant at 1e-6: no evidence, not evidence of none


def test_accuracy_trend_by_hand():
    assert accuracy_trend(rho=-0.5, p_value=0.01, alpha=0.05)["falls_with_sigma"]
    assert not accuracy_trend(rho=-0.5, p_value=0.01, alpha=0.01)["falls_with_sigma"]  # p must be below alpha
    assert not accuracy_trend(rho=0.5, p_value=1e-9, alpha=0.05)["falls_with_sigma"]  # rising is not falling
    trend = {
        "train": {
            "spearman_rho_accuracy_vs_sigma": float("nan"),
            "p_value": float("nan"),
            "accuracy_at_smallest_sigma": 0.8,
            "accuracy_at_largest_sigma": 0.8,
            "n_points": 40,
        }
    }
    claim = claim_accuracy_falls(trend=trend, alpha=0.05)
    assert claim["verdict"] == NOT_SUPPORTED and claim["detectable_effect"] == pytest.approx(-0.45, abs=0.01)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_claim_b_ignores_the_words_in_trend_json(tmp_path, alpha):
    files = write_run_files(tmp_path)
    trend = read_json(files["trend"])
    trend["train"]["verdict"] = "accuracy does NOT fall"  # prose from somewhere else: not read
    trend["train"]["falls_with_sigma"] = False
    files["trend"].write_text(json.dumps(trend))
    claims = compute_claims(files=files, alpha=alpha, unequal_atoms="n_unequal_atoms_arrangement", n_boot=200, seed=0)
    assert {c["id"]: c["verdict"] for c in claims}["b"] == SUPPORTED


def test_a_constant_unequal_atoms_descriptor_is_untested_not_contradicted(tmp_path):
    """Rattled cells all have 40 unequal atoms: the rank is a tie-break, so claim (e) cannot be read from it."""
    from advcgcnn.report import _effect_words

    files = write_run_files(tmp_path)
    files["descriptors"] = tmp_path / "descriptors.csv"
    for values, expected in (([40] * 6, NOT_SUPPORTED), ([3, 10, 12, 18, 20, 40], CONTRADICTED)):
        pd.DataFrame({"id": range(6), "n_unequal_atoms": values}).to_csv(files["descriptors"], index=False)
        claims = compute_claims(files=files, alpha=0.05, unequal_atoms="n_unequal_atoms", n_boot=200, seed=0)
        claim = {c["id"]: c for c in claims}["e"]
        assert claim["verdict"] == expected
        if expected == NOT_SUPPORTED:
            assert "constant" in claim["sentence"] and _effect_words(claim).startswith("not estimable")
        else:  # a varying descriptor is ranked as before: 4th of 4 in every run
            assert claim["effect"] == 4
