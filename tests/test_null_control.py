"""Adversarial examples against their null control, fragility, and claim (c), on planted data."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from advcgcnn.adversarial import enrichment_over_null, find_adversarial
from advcgcnn.fragility import associations
from advcgcnn.statistics import (
    clopper_pearson,
    detectable_correlation,
    detectable_proportion,
    equivalent,
    partial_spearman,
    spearman_interval,
)
from advcgcnn.verdicts import CONTRADICTED, NOT_SUPPORTED, SUPPORTED, claim_adversarial_more_distorted, three_way

SEEDS, NULL_SEEDS = [0, 1], [100, 101]


def planted_run(*, effect: float, n: int = 400, seed: int = 0):
    """Sweep predictions and fragility of a synthetic dataset.

    Every configuration has a disorder descriptor d, a composition x and a reference margin.
    Retraining alone flips a configuration with probability 0.1 per seed; the perturbation
    adds `effect` * d (d in 0..1), so with effect = 0 perturbed and null classifiers are alike.
    """
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    d = rng.random(n)
    x = rng.integers(0, 4, n) / 3
    target = rng.integers(0, 2, n)
    rows = []

    def add(sigma, seeds, p_wrong):
        for s in seeds:
            wrong = rng.random(n) < p_wrong
            pred = np.where(wrong, 1 - target, target)
            rows.append(pd.DataFrame({"id": ids, "mode": "train", "sigma": sigma, "seed": s, "target": target,
                                      "pred": pred, "prob_high": np.where(pred == 1, 0.8, 0.2)}))  # fmt: skip

    add(0.0, SEEDS, 0.0)  # the reference: right everywhere
    add(0.1, SEEDS, 0.1 + effect * d)
    add(0.0, NULL_SEEDS, np.full(n, 0.1))
    sweep = pd.concat(rows, ignore_index=True)
    margin = rng.random(n) * 0.5
    flips = np.clip(0.05 + effect * d + 0.05 * rng.standard_normal(n), 0, 1)
    measures = pd.DataFrame({"id": ids, "flip_probability": flips, "baseline_margin": margin})
    descriptors = pd.DataFrame({"id": ids, "tilt": d, "bond_angle_variance": rng.random(n)})
    labels = pd.DataFrame({"id": ids, "x": x})
    return sweep, measures, descriptors, labels


def claim_c(effect: float):
    sweep, measures, descriptors, labels = planted_run(effect=effect)
    groups = find_adversarial(sweep_predictions=sweep, sigma=0.1, seeds=SEEDS, null_seeds=NULL_SEEDS, min_wrong=2)
    null = enrichment_over_null(
        adversarial=(groups["group"] == "adversarial").to_numpy(), null=groups["null_flip"].to_numpy(), alpha=0.05
    )
    table = associations(
        measures=measures,
        descriptors=descriptors,
        labels=labels,
        names=["tilt", "bond_angle_variance"],
        n_boot=200,
        seed=0,
        alpha=0.05,
    )
    return null, table, claim_adversarial_more_distorted(null_control=null, fragility=table, alpha=0.05)


def test_planted_perturbation_sensitivity_is_enriched_over_the_null_and_supports_c():
    null, table, claim = claim_c(effect=0.5)
    assert null["enrichment"] > 3 and null["p_value"] < 1e-6
    assert null["adversarial_count"] > null["null_count"]
    tilt = table.set_index("descriptor").loc["tilt"]
    assert tilt["partial_rho"] > 0.5 and tilt["ci_low"] > 0 and tilt["p_adjusted_bh"] < 1e-6
    assert claim["verdict"] == SUPPORTED and claim["adversarial_set_distinguishable"]
    assert claim["adversarial_count"] == null["adversarial_count"] and claim["null_count"] == null["null_count"]


def test_no_planted_effect_gives_enrichment_near_one_and_no_supported_verdict():
    null, _, claim = claim_c(effect=0.0)
    assert 0.5 < null["enrichment"] < 2.0 and null["p_value"] > 0.05
    assert claim["verdict"] != SUPPORTED and not claim["adversarial_set_distinguishable"]
    if claim["verdict"] == NOT_SUPPORTED:
        assert 0 < claim["detectable_effect"] < 0.3  # 400 configurations could see a partial rho of about 0.14


def test_enrichment_by_hand():
    adversarial = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 7, bool)
    null = np.array([0] * 8 + [1] * 2 + [1] * 3 + [0] * 7, bool)
    out = enrichment_over_null(adversarial=adversarial, null=null, alpha=0.05)
    assert (out["only_perturbed"], out["only_null"]) == (8, 2)
    assert out["adversarial_count"] == 11 and out["null_count"] == 5
    assert out["enrichment"] == pytest.approx(4.0)
    assert out["p_value"] == pytest.approx(56 / 1024)  # P(X >= 8), X ~ Binomial(10, 1/2)


def test_power_and_equivalence_by_hand():
    lo, hi = clopper_pearson(5, 10, level=0.95)
    assert (lo, hi) == pytest.approx((0.18709, 0.81291), abs=1e-5)
    # Detectable proportion: the exact one-sided test at 0.05 reaches 80 % power there, and not just below.
    n, p0 = 100, 0.5
    p1 = detectable_proportion(n=n, p0=p0, alpha=0.05)
    k = int(binom.isf(0.05, n, p0)) + 1  # smallest count with P(X >= k) <= 0.05
    assert binom.sf(k - 1, n, p0) <= 0.05 < binom.sf(k - 2, n, p0)
    assert binom.sf(k - 1, n, p1) >= 0.8 > binom.sf(k - 1, n, p1 - 0.001)
    # Fisher z: (1.95996 + 0.84162) * sqrt(1.06 / 47) = 0.42075 -> tanh = 0.39745.
    assert detectable_correlation(n=50, alpha=0.05) == pytest.approx(0.39745, abs=1e-4)
    # 1.95996 * sqrt(1.06 / 47) = 0.29434 -> tanh = 0.28613.
    assert spearman_interval(0.0, 50, level=0.95) == pytest.approx((-0.28613, 0.28613), abs=1e-4)
    assert equivalent(interval=(-0.05, 0.08), margin=0.1) and not equivalent(interval=(-0.05, 0.12), margin=0.1)


def test_three_outcomes():
    assert three_way(effect=0.3, p_value=0.01, alpha=0.05, claimed_sign=1) == SUPPORTED
    assert three_way(effect=-0.3, p_value=0.01, alpha=0.05, claimed_sign=1) == CONTRADICTED
    assert three_way(effect=0.3, p_value=0.2, alpha=0.05, claimed_sign=1) == NOT_SUPPORTED
    assert three_way(effect=0.01, p_value=0.8, alpha=0.05, claimed_sign=1, equivalence=True) == CONTRADICTED


def test_partial_spearman_removes_a_shared_control():
    rng = np.random.default_rng(0)
    x = rng.random(500)
    a, b = x + 0.1 * rng.random(500), x + 0.1 * rng.random(500)
    assert partial_spearman(a, b, controls=[]) > 0.9
    assert abs(partial_spearman(a, b, controls=[x])) < 0.15
