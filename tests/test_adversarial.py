import numpy as np
import pandas as pd
import pytest
import torch

from advcgcnn.adversarial import (
    benjamini_hochberg,
    cliffs_delta,
    compare_groups,
    find_adversarial,
    gradient_attack,
    saliency_by_element,
)
from advcgcnn.features import element_feature_table
from advcgcnn.graphs import build_graphs
from advcgcnn.inference import GraphTensors, predict
from advcgcnn.training import train_one

from .helpers import decorated_frames
from .test_model_train import graphs_from_frames, small_settings


def test_cliffs_delta_and_bh():
    assert cliffs_delta(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # Known example: p = [0.01, 0.04, 0.03, 0.2] -> BH [0.04, 0.0533, 0.0533, 0.2]
    adj = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    assert np.allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(benjamini_hochberg(np.array([np.nan, 0.5]))[0])


def test_find_adversarial_groups():
    baseline = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c"],
            "seed": [0, 1] * 3,
            "target": [1, 1, 0, 0, 1, 1],
            "prob_high": [0.9, 0.8, 0.2, 0.1, 0.3, 0.2],
        }
    )
    sweep = pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c", "a"],
            "mode": ["train"] * 6 + ["evaluate"],
            "sigma": [0.1] * 7,
            "seed": [0, 1, 0, 1, 0, 1, 0],
            "target": [1, 1, 0, 0, 1, 1, 1],
            "pred": [0, 0, 0, 0, 1, 1, 1],
            "prob_high": [0.4, 0.3, 0.2, 0.1, 0.6, 0.7, 0.9],
        }
    )
    groups = find_adversarial(baseline_predictions=baseline, sweep_predictions=sweep, sigma=0.1, min_wrong=2).set_index("id")
    assert groups.loc["a", "group"] == "adversarial" and groups.loc["a", "wrong_seeds"] == "0,1"
    assert groups.loc["b", "group"] == "normal"
    assert groups.loc["c", "group"] == "baseline_error"
    with pytest.raises(ValueError, match="sigma=0.2"):
        find_adversarial(baseline_predictions=baseline, sweep_predictions=sweep, sigma=0.2, min_wrong=2)


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
