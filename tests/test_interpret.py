"""Interpretable model, general features, model comparison and power density vs disorder."""

import numpy as np
import pandas as pd
import pytest

from advcgcnn.compare import check_same_folds, compare_models, corrected_paired_t
from advcgcnn.folds import stratified_folds
from advcgcnn.interpret import (
    BIAS,
    check_contributions,
    cross_validate,
    feature_table,
    general_feature_names,
    general_features,
    global_importance,
)
from advcgcnn.power_density import power_density_vs_disorder

SETTINGS = {
    "n_estimators": 40,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 5,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}


def synthetic(n=120, seed=0):
    """Features where `signal` decides the label (with noise) and `noise` does not."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    signal = rng.normal(size=n)
    features = pd.DataFrame({"signal": signal, "noise": rng.normal(size=n), "constant": 1.0}, index=pd.Index(ids, name="id"))
    labels = pd.DataFrame({"id": ids, "label": (signal + 0.3 * rng.normal(size=n) > 0).astype(int)})
    folds = stratified_folds(labels=labels, n_folds=4, seeds=[0, 1])
    return features, labels, folds


def test_contributions_sum_to_the_raw_prediction():
    features, labels, folds = synthetic()
    result = cross_validate(features=features, labels=labels, folds=folds, seeds=[0, 1], settings=SETTINGS)
    names = list(features.columns)
    contrib, pred = result["contributions"], result["predictions"]
    assert list(contrib[["id", "seed", "fold"]].itertuples(index=False)) == list(
        pred[["id", "seed", "fold"]].itertuples(index=False)
    )
    total = contrib[[*names, BIAS]].sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, pred["raw_score"], atol=1e-9)
    # ...and the raw score is the log-odds of the predicted probability.
    np.testing.assert_allclose(1 / (1 + np.exp(-pred["raw_score"])), pred["prob_high"], atol=1e-12)
    check_contributions(contributions=contrib, predictions=pred, names=names)
    broken = contrib.copy()
    broken["signal"] += 0.1
    with pytest.raises(RuntimeError, match="differ from the raw score"):
        check_contributions(contributions=broken, predictions=pred, names=names)

    importance = global_importance(contrib, names=names)
    assert importance["feature"].tolist()[0] == "signal"
    assert importance.set_index("feature").loc["constant", "mean_abs_contribution"] == 0
    assert np.mean([r["accuracy"] for r in result["runs"]]) > 0.8


def test_cross_validation_holds_out_exactly_the_given_folds_and_is_deterministic():
    features, labels, folds = synthetic()
    first = cross_validate(features=features, labels=labels, folds=folds, seeds=[0, 1], settings=SETTINGS)
    check_same_folds(name="gbm", predictions=first["predictions"], folds=folds)  # raises if any fold differs
    assert len(first["runs"]) == 8
    again = cross_validate(features=features, labels=labels, folds=folds, seeds=[0, 1], settings=SETTINGS)
    pd.testing.assert_frame_equal(first["predictions"], again["predictions"])


def predictions_from(folds: pd.DataFrame, labels: pd.DataFrame, prob_of_truth: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = folds.merge(labels, on="id").rename(columns={"label": "target"})
    right = rng.random(len(data)) < prob_of_truth
    prob = np.where(right == (data["target"] == 1), 0.8, 0.2)
    return data.assign(prob_high=prob, pred=(prob >= 0.5).astype(int))


def test_model_comparison_uses_identical_folds_and_pairs_runs():
    _, labels, folds = synthetic()
    good = predictions_from(folds, labels, 0.95, seed=1)
    poor = predictions_from(folds, labels, 0.6, seed=2)
    table = compare_models(
        models={"good": ("a good model", good), "poor": ("a poor one", poor)}, folds=folds, reference="good"
    ).set_index("model")
    assert table.loc["good", "accuracy_mean"] > table.loc["poor", "accuracy_mean"]
    assert table.loc["poor", "n_paired_runs"] == 8
    assert table.loc["poor", "accuracy_diff_good_minus_model"] > 0.2
    assert table.loc["poor", "accuracy_p_corrected_t"] < 0.05

    moved = poor.copy()
    moved.loc[0, "fold"] = (moved.loc[0, "fold"] + 1) % 4
    with pytest.raises(ValueError, match=r"poor: 1 predictions are in a different fold than folds.csv"):
        compare_models(models={"good": ("", good), "poor": ("", moved)}, folds=folds, reference="good")
    with pytest.raises(ValueError, match="exactly once"):
        compare_models(models={"good": ("", good), "poor": ("", poor.iloc[1:])}, folds=folds, reference="good")


def test_corrected_t_test_is_more_cautious_than_the_plain_one():
    from scipy.stats import ttest_1samp

    diff = np.array([0.02, 0.05, 0.01, 0.04, 0.03, 0.06, 0.0, 0.03, 0.02, 0.05])
    assert corrected_paired_t(diff, test_fraction=0.2) > ttest_1samp(diff, 0).pvalue
    assert corrected_paired_t(np.zeros(5), test_fraction=0.2) == 1.0


def test_general_features_of_cubic_cssnbr3(cubic_cssnbr3):
    from pymatgen.core import Element

    f = general_features(cubic_cssnbr3)
    assert list(f) == general_feature_names()
    expected_x = (Element("Cs").X + Element("Sn").X + 3 * Element("Br").X) / 5
    assert f["X_mean"] == pytest.approx(expected_x)
    assert f["X_max"] == Element("Br").X and f["X_range"] == pytest.approx(Element("Br").X - Element("Cs").X)
    assert f["volume_per_atom"] == pytest.approx(5.80**3 / 5)
    assert f["a"] == pytest.approx(5.80) and f["alpha"] == pytest.approx(90)
    assert f["density"] == pytest.approx(cubic_cssnbr3.density)


def test_feature_table_names_the_problem():
    a = pd.DataFrame({"id": ["p", "q"], "tilt": [1.0, 2.0]})
    b = pd.DataFrame({"id": ["p", "q"], "x": [0.0, 3.0]})
    table = feature_table(tables=[a, b], names=["tilt", "x"], ids=["q", "p"], source="descriptors.csv")
    assert table.index.tolist() == ["q", "p"] and table["x"].tolist() == [3.0, 0.0]
    with pytest.raises(ValueError, match=r"descriptors.csv: unknown feature\(s\) \['warp'\]"):
        feature_table(tables=[a, b], names=["warp"], ids=["p"], source="descriptors.csv")
    with pytest.raises(ValueError, match="1 configurations have no features"):
        feature_table(tables=[a, b], names=["tilt", "x"], ids=["p", "r"], source="descriptors.csv")


def test_power_density_at_fixed_composition_signed_by_disorder():
    rng = np.random.default_rng(3)
    n = 200
    x = rng.integers(0, 4, n) / 3
    tilt = rng.uniform(0, 20, n)
    gap = 1.0 + 0.02 * tilt  # below the SQ optimum: a larger gap means more power
    labels = pd.DataFrame({"id": range(n), "x": x, "band_gap": gap, "power_density": 200 + 5 * tilt + rng.normal(0, 5, n)})
    descriptors = pd.DataFrame(
        {"id": range(n), "tilt": tilt, "bond_length_deviation": rng.normal(size=n), "n_unequal_atoms": 40, "x_copy": x}
    )
    table = power_density_vs_disorder(
        labels=labels,
        descriptors=descriptors,
        names=["tilt", "bond_length_deviation", "n_unequal_atoms"],
        n_boot=300,
        seed=0,
        alpha=0.05,
    ).set_index("descriptor")
    tilt_row = table.loc["tilt"]
    assert tilt_row["spearman_rho"] > 0.9 and tilt_row["signed_partial_rho"] > 0.9
    assert tilt_row["signed_ci_low"] > 0.8 and tilt_row["p_adjusted_bh"] < 1e-10
    assert tilt_row["signed_rho_gap_fixed_x"] > 0.99 and tilt_row["median_gap"] < 1.34
    noise = table.loc["bond_length_deviation"]
    assert noise["p_adjusted_bh"] > 0.05 and noise["tost_low"] < noise["signed_partial_rho"] < noise["tost_high"]
    assert np.isnan(table.loc["n_unequal_atoms", "signed_partial_rho"])  # no variation: not tested
    again = power_density_vs_disorder(labels=labels, descriptors=descriptors, names=["tilt"], n_boot=300, seed=0, alpha=0.05)
    assert again["signed_ci_low"].iloc[0] == tilt_row["signed_ci_low"]  # seeded bootstrap
