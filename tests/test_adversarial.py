import numpy as np
import pandas as pd
import pytest
import torch

from advcgcnn.adversarial import (
    cliffs_delta,
    compare_groups,
    find_adversarial,
    gradient_attack,
    saliency_by_element,
)
from advcgcnn.features import element_feature_table
from advcgcnn.graphs import build_graphs
from advcgcnn.inference import GraphTensors, predict
from advcgcnn.statistics import bh_adjusted
from advcgcnn.training import train_one

from .helpers import decorated_frames
from .test_model_train import graphs_from_frames, small_settings


def test_cliffs_delta_and_bh():
    assert cliffs_delta(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # Known example: p = [0.01, 0.04, 0.03, 0.2] -> BH [0.04, 0.0533, 0.0533, 0.2]
    adj = bh_adjusted(np.array([0.01, 0.04, 0.03, 0.2]))
    assert np.allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(bh_adjusted(np.array([np.nan, 0.5]))[0])


def test_find_adversarial_against_the_sigma0_reference_and_the_null():
    def rows(sigma, seed, preds):
        return pd.DataFrame({"id": list("abcd"), "mode": "train", "sigma": sigma, "seed": seed, "target": [1, 0, 1, 0],
                             "pred": preds, "prob_high": [0.9 if p else 0.1 for p in preds]})  # fmt: skip

    sweep = pd.concat(
        [
            rows(0.0, 0, [1, 0, 0, 0]),  # reference seeds: c is wrong in both, so a reference error
            rows(0.0, 1, [1, 0, 0, 0]),
            rows(0.1, 0, [0, 0, 1, 1]),  # perturbed: a wrong twice, d once
            rows(0.1, 1, [0, 0, 1, 0]),
            rows(0.0, 100, [1, 1, 0, 1]),  # null seeds: b and d wrong twice
            rows(0.0, 101, [1, 1, 0, 1]),
        ]
    )
    groups = find_adversarial(sweep_predictions=sweep, sigma=0.1, seeds=[0, 1], null_seeds=[100, 101], min_wrong=2)
    groups = groups.set_index("id")
    assert groups["group"].to_dict() == {"a": "adversarial", "b": "normal", "c": "reference_error", "d": "inconsistent"}
    assert groups["null_flip"].to_dict() == {"a": False, "b": True, "c": False, "d": True}
    with pytest.raises(ValueError, match="disjoint"):
        find_adversarial(sweep_predictions=sweep, sigma=0.1, seeds=[0, 1], null_seeds=[1, 100], min_wrong=2)
    with pytest.raises(ValueError, match="sigma=0.2"):
        find_adversarial(sweep_predictions=sweep, sigma=0.2, seeds=[0, 1], null_seeds=[100, 101], min_wrong=2)


def test_compare_groups_detects_a_shift():
    rng = np.random.default_rng(0)
    ids = [f"c{i}" for i in range(60)]
    desc = pd.DataFrame({"id": ids, "tilt": np.r_[rng.normal(5, 1, 30), rng.normal(2, 1, 30)], "flat": 1.0})
    groups = pd.DataFrame({"id": ids, "group": ["adversarial"] * 30 + ["normal"] * 30})
    table = compare_groups(descriptors=desc, groups=groups, names=["tilt", "flat"]).set_index("descriptor")
    assert table.loc["tilt", "p_adjusted_bh"] < 1e-6 and table.loc["tilt", "cliffs_delta"] > 0.8
    assert np.isnan(table.loc["flat", "p_value"])  # no variation: no test


def test_gradient_attack_flips_and_the_flip_is_real(tmp_path):
    torch.manual_seed(0)
    frames = decorated_frames(48, seed=7)
    graphs = graphs_from_frames(tmp_path, frames)
    n_i = np.array([f.get_chemical_symbols().count("I") for f in frames])
    labels = pd.DataFrame({"id": graphs.ids, "label": (n_i >= 12).astype(int)})
    table = element_feature_table()
    model, _ = train_one(
        graphs=graphs,
        labels=labels,
        train_mask=np.ones(len(graphs), bool),
        seed=0,
        fold=0,
        settings=small_settings(epochs=10),
        element_table=table,
    )
    model.eval()
    tensors = GraphTensors(graphs, torch.device("cpu"))
    prob = predict(model=model, tensors=tensors, crystals=np.arange(len(graphs)), batch_size=64)
    y = labels["label"].to_numpy()
    correct = np.flatnonzero((prob >= 0.5) == y)
    # The configurations nearest the decision boundary.
    near = correct[np.argsort(np.abs(prob[correct] - 0.5))[:4]]
    result, delta, atom_idx = gradient_attack(
        model=model, graphs=graphs, crystals=near, targets=y[near], epsilons=[0.1, 0.3, 1.0, 2.0, 3.0], steps=15
    )
    flipped = result["flip_norm"].notna().to_numpy()
    assert flipped.any()
    # Apply the reported displacement, rebuild the graph from scratch, predict again.
    c = np.flatnonzero(flipped)[0]
    crystal = near[c]
    a0, a1 = graphs.atom_offsets[crystal], graphs.atom_offsets[crystal + 1]
    rows = np.flatnonzero((atom_idx >= a0) & (atom_idx < a1))
    shift = delta[rows]
    assert np.linalg.norm(shift) == pytest.approx(result["flip_norm"].iloc[c], rel=1e-6)
    moved = graphs.positions[a0:a1] + shift
    structures = {
        "ids": ["x"],
        "lattice": graphs.lattice[crystal : crystal + 1],
        "atom_offsets": np.array([0, a1 - a0]),
        "atom_z": graphs.atom_z[a0:a1],
        "positions": moved,
    }
    fresh = build_graphs(structures, cutoff=graphs.cutoff, max_neighbors=graphs.max_neighbors)
    fresh_tensors = GraphTensors(fresh, torch.device("cpu"))
    new_prob = predict(model=model, tensors=fresh_tensors, crystals=np.array([0]), batch_size=1)[0]
    assert (new_prob >= 0.5) != bool(y[crystal])
    assert new_prob == pytest.approx(result["flipped_prob"].iloc[c], abs=1e-5)


def test_saliency_shares_sum_to_one():
    sal = pd.DataFrame(
        {
            "id": ["a"] * 3 + ["b"] * 2,
            "atom": [0, 1, 2, 0, 1],
            "element": ["Sn", "Br", "I", "Sn", "Br"],
            "displacement": [3.0, 4.0, 0.0, 1.0, 1.0],
        }
    )
    out = saliency_by_element(sal).set_index("element")
    assert out["share_of_total"].sum() == pytest.approx(1.0)
    assert out.loc["Sn", "share_of_total"] == pytest.approx((9 / 25 + 0.5) / 2)
