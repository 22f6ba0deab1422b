"""Packed training (train.models_per_job): K models at once equal K separate trainings."""

import os

import numpy as np
import pytest
import torch

from advcgcnn.inference import GraphTensors, predict
from advcgcnn.packed import Member, train_packed
from advcgcnn.training import train_one

from .test_model_train import small_set, small_settings  # noqa: F401 (fixture)


def members_of(labels, *, seeds_folds, tmp_path=None):
    folds = np.arange(len(labels)) % 3
    return [
        Member(
            seed=seed,
            fold=fold,
            train_mask=folds != fold,
            checkpoint_path=str(tmp_path / f"s{seed}f{fold}" / "checkpoint.pt") if tmp_path else None,
        )
        for seed, fold in seeds_folds
    ]


def predictions(model, graphs):
    return predict(
        model=model, tensors=GraphTensors(graphs, torch.device("cpu")), crystals=np.arange(len(graphs.ids)), batch_size=64
    )


def test_three_packed_models_equal_three_separate_trainings(small_set):  # noqa: F811
    graphs, labels = small_set
    settings = small_settings(epochs=2)
    # Two seeds and two folds: different training sets, shuffles and initial weights per model.
    members = members_of(labels, seeds_folds=[(0, 0), (0, 1), (1, 2)])
    packed, infos = train_packed(graphs=graphs, labels=labels, members=members, settings=settings, element_table=small_table())
    for member, model, info in zip(members, packed, infos):
        alone, alone_info = train_one(
            graphs=graphs, labels=labels, train_mask=member.train_mask, seed=member.seed, fold=member.fold,
            settings=settings, element_table=small_table(),
        )  # fmt: skip
        np.testing.assert_allclose(predictions(model, graphs), predictions(alone, graphs), atol=1e-4)
        np.testing.assert_allclose(info["train_loss"], alone_info["train_loss"], rtol=1e-4)
        for name, value in alone.state_dict().items():
            np.testing.assert_allclose(model.state_dict()[name].numpy(), value.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
    assert len({round(float(predictions(m, graphs).mean()), 6) for m in packed}) == 3  # three distinct models


def test_a_killed_pack_resumes_exactly(small_set, tmp_path, monkeypatch):  # noqa: F811
    graphs, labels = small_set
    settings = small_settings(epochs=4, checkpoint_every=1)
    seeds_folds = [(0, 0), (1, 1)]
    whole, _ = train_packed(
        graphs=graphs, labels=labels, members=members_of(labels, seeds_folds=seeds_folds), settings=settings,
        element_table=small_table(),
    )  # fmt: skip
    members = members_of(labels, seeds_folds=seeds_folds, tmp_path=tmp_path)
    monkeypatch.setenv("ADVCGCNN_STOP_AFTER_EPOCH", "2")
    with pytest.raises(SystemExit):
        train_packed(graphs=graphs, labels=labels, members=members, settings=settings, element_table=small_table())
    assert all(os.path.exists(m.checkpoint_path) for m in members)
    monkeypatch.delenv("ADVCGCNN_STOP_AFTER_EPOCH")
    resumed, infos = train_packed(graphs=graphs, labels=labels, members=members, settings=settings, element_table=small_table())
    assert [len(i["train_loss"]) for i in infos] == [4, 4]
    for a, b in zip(whole, resumed):
        for name, value in a.state_dict().items():
            assert torch.equal(b.state_dict()[name], value), name
    # A member's checkpoint is train_one's format: that model alone resumes from it.
    state = torch.load(members[0].checkpoint_path, weights_only=False)
    assert state["epoch"] == 4 and set(state) == {"fingerprint", "epoch", "history", "model", "optimizer"}


def small_table():
    from advcgcnn.features import element_feature_table

    return element_feature_table()
