import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from advcgcnn.features import element_feature_table
from advcgcnn.folds import fold_assignment, stratified_folds
from advcgcnn.graphs import build_graphs, read_structures, write_structures
from advcgcnn.inference import GraphTensors, _ranges, predict
from advcgcnn.model import CGCNN, TASKS, ModelSettings, scatter_sum, torch_scatter
from advcgcnn.training import TrainSettings, train_one

from .helpers import decorated_frames


def graphs_from_frames(tmp_path, frames, cutoff=6.0):
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(f) for f in frames]
    ids = [f.info["id"] for f in frames]
    write_structures(tmp_path / "s.h5", ids=ids, structures=structures)
    return build_graphs(read_structures(tmp_path / "s.h5"), cutoff=cutoff, max_neighbors=12)


@pytest.fixture
def small_set(tmp_path):
    frames = decorated_frames(64, seed=3)
    graphs = graphs_from_frames(tmp_path, frames)
    n_i = np.array([f.get_chemical_symbols().count("I") for f in frames])
    # Separable problem: high class = iodine-rich.
    labels = pd.DataFrame({"id": graphs.ids, "label": (n_i >= 12).astype(int)})
    return graphs, labels


def small_settings(**kw):
    model = ModelSettings(atom_fea_len=16, n_conv=2, h_fea_len=32, cutoff=6.0, gaussian_step=0.3)
    return dataclasses.replace(TrainSettings(epochs=12, batch_size=16, learning_rate=1e-2, model=model), **kw)


def test_ranges_helper():
    assert _ranges(np.array([5, 0, 10]), np.array([2, 0, 3])).tolist() == [5, 6, 10, 11, 12]


def test_output_shapes(small_set):
    graphs, _ = small_set
    tensors = GraphTensors(graphs, torch.device("cpu"))
    batch = tensors.batch(np.arange(5))
    assert batch["atom_z"].shape[0] == 5 * 40
    clf = CGCNN(element_feature_table(), ModelSettings(cutoff=6.0))
    reg = CGCNN(element_feature_table(), ModelSettings(cutoff=6.0, task="regression"))
    clf.eval(), reg.eval()
    assert clf(batch).shape == (5, 2)
    assert reg(batch).shape == (5, 1)


def test_prediction_ignores_batch_composition(small_set):
    graphs, _ = small_set
    torch.manual_seed(0)
    model = CGCNN(element_feature_table(), ModelSettings(cutoff=6.0)).eval()
    tensors = GraphTensors(graphs, torch.device("cpu"))
    alone = predict(model=model, tensors=tensors, crystals=np.array([7]), batch_size=1)
    together = predict(model=model, tensors=tensors, crystals=np.array([3, 7, 11]), batch_size=3)
    assert together[1] == pytest.approx(alone[0], abs=1e-5)


def test_native_scatter_matches_torch_scatter():
    if torch_scatter is None:
        pytest.skip("torch-scatter not installed (optional backend)")
    src = torch.randn(50, 4)
    index = torch.randint(0, 7, (50,))
    assert torch.allclose(scatter_sum(src, index, size=7), scatter_sum(src, index, size=7, backend="torch_scatter"), atol=1e-6)


def test_native_scatter_sums_rows():
    src = torch.tensor([[1.0], [2.0], [4.0]])
    assert scatter_sum(src, torch.tensor([0, 2, 0]), size=3).flatten().tolist() == [5.0, 0.0, 2.0]


def test_training_beats_chance_on_separable_problem(small_set):
    graphs, labels = small_set
    folds = fold_assignment(folds=stratified_folds(labels=labels, n_folds=4, seeds=[0]), seed=0, ids=graphs.ids)
    test = folds == 0
    model, info = train_one(
        graphs=graphs,
        labels=labels,
        train_mask=~test,
        seed=0,
        fold=0,
        settings=small_settings(),
        element_table=element_feature_table(),
    )
    tensors = GraphTensors(graphs, torch.device("cpu"))
    prob = predict(model=model, tensors=tensors, crystals=np.flatnonzero(test), batch_size=64)
    accuracy = ((prob >= 0.5) == labels["label"].to_numpy()[test]).mean()
    assert info["train_loss"][-1] < info["train_loss"][0]
    assert accuracy >= 0.8  # chance is 0.5 on these balanced folds


def test_resume_from_checkpoint_gives_identical_model(small_set, tmp_path):
    graphs, labels = small_set
    mask = np.arange(len(graphs)) % 4 != 0
    table = element_feature_table()
    run = dict(graphs=graphs, labels=labels, train_mask=mask, seed=1, fold=0, element_table=table)
    straight, _ = train_one(**run, settings=small_settings(epochs=6))
    ckpt = str(tmp_path / "ckpt.pt")
    train_one(**run, settings=small_settings(epochs=4, checkpoint_every=2), checkpoint_path=ckpt)  # "killed" at 4
    resumed, info = train_one(**run, settings=small_settings(epochs=6, checkpoint_every=2), checkpoint_path=ckpt)
    assert len(info["train_loss"]) == 6
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_of_other_settings_is_not_resumed(small_set, tmp_path):
    graphs, labels = small_set
    mask = np.arange(len(graphs)) % 4 != 0
    ckpt = str(tmp_path / "ckpt.pt")
    table = element_feature_table()
    run = dict(graphs=graphs, labels=labels, train_mask=mask, seed=1, fold=0, element_table=table, checkpoint_path=ckpt)
    train_one(**run, settings=small_settings(epochs=2, checkpoint_every=1))
    _, info = train_one(**run, settings=small_settings(epochs=2, learning_rate=1e-3))
    assert len(info["train_loss"]) == 2  # trained from scratch, not resumed


def test_folds_are_stratified_and_seeded():
    labels = pd.DataFrame({"id": [f"c{i}" for i in range(40)], "label": [0] * 30 + [1] * 10})
    folds = stratified_folds(labels=labels, n_folds=5, seeds=[0, 1])
    for _, part in folds.groupby("seed"):
        per_fold = part.merge(labels, on="id").groupby("fold")["label"].sum()
        assert per_fold.tolist() == [2] * 5
    assert not folds[folds.seed == 0]["fold"].equals(folds[folds.seed == 1]["fold"].reset_index(drop=True))
    assert stratified_folds(labels=labels, n_folds=5, seeds=[0]).equals(stratified_folds(labels=labels, n_folds=5, seeds=[0]))
    with pytest.raises(ValueError, match="per class"):
        stratified_folds(labels=labels.iloc[:33], n_folds=5, seeds=[0])


def test_fold_assignment_names_the_missing_split_and_ids():
    folds = stratified_folds(labels=pd.DataFrame({"id": [f"c{i}" for i in range(10)], "label": [0, 1] * 5}), n_folds=2, seeds=[0])
    assert (
        fold_assignment(folds=folds, seed=0, ids=["c3", "c1"]).tolist()
        == folds.set_index("id").loc[["c3", "c1"], "fold"].tolist()
    )
    with pytest.raises(ValueError, match="no split for seed 5"):
        fold_assignment(folds=folds, seed=5, ids=["c1"])
    with pytest.raises(ValueError, match="no fold for seed 0"):
        fold_assignment(folds=folds, seed=0, ids=["c1", "elsewhere"])


def test_unknown_task_is_refused_with_the_config_key():
    assert TASKS == ("classification", "regression")
    with pytest.raises(ValueError, match="train.task"):
        ModelSettings(task="ranking")


def test_gated_conv_matches_the_paper_formula():
    from torch.nn import functional as F

    from advcgcnn.model import GatedConv

    torch.manual_seed(0)
    conv = GatedConv(8, 5).eval()
    with torch.no_grad():  # non-trivial running statistics
        conv.bn_gate.running_mean.normal_()
        conv.bn_sum.running_var.uniform_(0.5, 2.0)
    atom, edge = torch.randn(6, 8), torch.randn(20, 5)
    src, dst = torch.randint(0, 6, (20,)), torch.randint(0, 6, (20,))
    z = torch.cat([atom[src], atom[dst], edge], dim=1)
    gate, core = conv.bn_gate(conv.full(z)).chunk(2, dim=1)
    summed = torch.zeros(6, 8).index_add_(0, src, torch.sigmoid(gate) * F.softplus(core))
    expected = F.softplus(atom + conv.bn_sum(summed))
    assert torch.allclose(conv(atom, edge, src, dst), expected, atol=1e-5)
