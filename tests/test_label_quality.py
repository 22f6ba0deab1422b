"""Label stability and the PBE cross-check: the arithmetic behind the demo provenance."""

import numpy as np
import pandas as pd
import pytest

from advcgcnn import label_quality


def stability_table(*, noise: float, spread: float, seed: int = 0) -> pd.DataFrame:
    """Two compositions x 12 arrangements, each labelled twice with `noise` on top of a `spread` between them."""
    rng = np.random.default_rng(seed)
    rows = []
    for n_i in (8, 16):
        for k in range(12):
            true = 2.0 - 0.02 * n_i + rng.normal(0, spread)
            rows.append({"protocol": "p", "id": f"{n_i}_{k}", "n_I": n_i, "gap_base": true + rng.normal(0, noise),
                         "gap_perturbed": true + rng.normal(0, noise), "seconds_per_label": 10.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_within_and_between_spreads():
    assert label_quality.within_sd(np.array([0.2, -0.2])) == pytest.approx(0.2 / np.sqrt(2))
    frame = pd.DataFrame({"n_I": [8, 8, 16, 16], "v": [1.0, 1.2, 2.0, 2.2]})
    assert label_quality.pooled_between_sd(frame, value="v") == pytest.approx(np.std([1.0, 1.2], ddof=1))


def test_a_stable_label_is_a_property_of_the_arrangement_and_a_noisy_one_is_not():
    stable = label_quality.protocol_comparison(stability_table(noise=0.005, spread=0.1), n_sites=24, n_boot=300).iloc[0]
    noisy = label_quality.protocol_comparison(stability_table(noise=0.1, spread=0.01), n_sites=24, n_boot=300).iloc[0]
    assert stable["within_sd_eV"] == pytest.approx(0.005, rel=0.4) and stable["ratio_ci_high"] < 0.5
    assert stable["property_of_arrangement"] and label_quality.label_verdict(stable).startswith("a property")
    assert not noisy["property_of_arrangement"] and label_quality.label_verdict(noisy).startswith("noise-dominated")
    assert stable["mean_raw_gap_nI08"] > stable["mean_raw_gap_nI16"]


def test_gap_against_x_says_where_labels_disagree_with_experiment():
    records = pd.DataFrame({"n_I": [0, 12, 12, 24], "band_gap": [1.75, 2.1, 2.0, 1.30]})
    words = label_quality.gap_against_x(records, experiment={"host": 1.75, "substituent": 1.30}, n_sites=24)
    assert "above both experimental end points" in words["disagreements_with_experiment"][0]
    falling = pd.DataFrame({"n_I": [0, 12, 24], "band_gap": [1.75, 1.5, 1.30]})
    words = label_quality.gap_against_x(falling, experiment={"host": 1.75, "substituent": 1.30}, n_sites=24)
    assert words["disagreements_with_experiment"][0].startswith("none")


def test_pbe_comparison_orders_arrangements_within_a_composition():
    rng = np.random.default_rng(1)
    gfn1 = pd.DataFrame({"id": [f"c{i}" for i in range(10)], "n_I": 8, "gap_gfn1_raw": rng.uniform(1.8, 2.4, 10)})
    pbe = pd.DataFrame(
        {"id": gfn1["id"], "pbe_gap": 0.5 * gfn1["gap_gfn1_raw"] - 0.1, "pbe_energy": -3.0, "seconds": 40.0, "ranks": 2}
    )
    check = label_quality.pbe_comparison(gfn1, pbe, n_sites=24)
    row = check["per_composition"][0]
    assert row["spearman_rho"] == pytest.approx(1.0) and row["slope_pbe_per_gfn1"] == pytest.approx(0.5)
    assert check["n_cells"] == 10 and check["mpi_ranks"] == 2 and check["seconds_per_cell"] == 40.0
