"""Sharded CGCNN training: one (fold, seed) per job, resumable, reproducible."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn import functional as F

from .folds import fold_assignment
from .graphs import GraphSet
from .inference import GraphTensors, load_training_data, pick_device, predict, read_element_table, save_model
from .io import atomic_path, read_json, write_csv, write_json
from .metrics import classification_metrics, regression_metrics, summarise_runs
from .model import CGCNN, ModelSettings, Task

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TrainSettings:
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    checkpoint_every: int = 5
    threads: int = 1
    cuda_graphs: bool = False  # GPU jobs only: capture the forward pass (torch.compile, reduce-overhead)
    model: ModelSettings = field(default_factory=ModelSettings)
    target: str = "label"  # column of labels.csv; regression targets need task=regression

    @classmethod
    def from_config(cls, *, train: Mapping, cutoff: float, **overrides) -> TrainSettings:
        """Settings from the config's `train` section; `overrides` replace top-level fields."""
        model = ModelSettings(
            atom_fea_len=train["atom_fea_len"],
            n_conv=train["n_conv"],
            h_fea_len=train["h_fea_len"],
            cutoff=cutoff,
            gaussian_step=train["gaussian_step"],
            task=train.get("task", "classification"),
        )
        settings = {
            "epochs": train["epochs"],
            "batch_size": train["batch_size"],
            "learning_rate": train["learning_rate"],
            "weight_decay": train["weight_decay"],
            "checkpoint_every": train["checkpoint_every"],
            "threads": train["threads"],
            "cuda_graphs": train.get("cuda_graphs", False),
            "target": train.get("target", "label"),
        }
        return cls(model=model, **(settings | overrides))


def distributed_rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _global_mean(total: float, count: int, world: int) -> float:
    """Mean training loss of an epoch over all ranks."""
    if world > 1:
        sums = torch.tensor([total, float(count)], dtype=torch.float64)
        dist.all_reduce(sums)
        total, count = float(sums[0]), int(sums[1])
    return total / max(count, 1)


def write_checkpoint(
    *, path: str, fingerprint: str, epoch: int, history: list[float], model_state: dict, optimizer_state: dict
) -> None:
    """One model's resumable state (train_one's and the packed jobs' format), written atomically."""
    state = {
        "fingerprint": fingerprint,
        "epoch": epoch,
        "history": history,
        "model": model_state,
        "optimizer": optimizer_state,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_checkpoint(*, path: str | None, fingerprint: str, device) -> dict | None:
    """The checkpoint at `path` if it was written by the run `fingerprint` names; None otherwise."""
    if not path or not os.path.exists(path):
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring %s: written by a run with other settings or data", path)
        return None
    return state


def settings_fingerprint(*, settings: TrainSettings, train_ids: list[str], seed: int, fold: int) -> str:
    """Identifies a run; a checkpoint from any other run is never resumed.

    The epoch count is left out: training longer continues the same trajectory.
    """
    fixed = {k: v for k, v in asdict(settings).items() if k not in ("epochs", "checkpoint_every", "threads", "cuda_graphs")}
    blob = json.dumps({"settings": fixed, "ids": train_ids, "seed": seed, "fold": fold}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def with_cuda_graphs(model: torch.nn.Module, *, settings: TrainSettings, device: torch.device):
    """The model's forward captured as CUDA graphs where asked for and on a GPU; else the model itself.

    torch.compile's reduce-overhead mode records one graph per input shape: demo batches of
    40-atom cells with 12 neighbours have one shape except each epoch's last batch.
    """
    if not settings.cuda_graphs or device.type != "cuda":
        return model
    return torch.compile(model, mode="reduce-overhead", dynamic=False)


def _loss(model, batch: dict, target: torch.Tensor, task: Task) -> torch.Tensor:
    out = model(batch)
    if task == "classification":
        return F.cross_entropy(out, target.long())
    return F.mse_loss(out[:, 0], target.float())


def train_one(
    *,
    graphs: GraphSet,
    labels: pd.DataFrame,
    train_mask: np.ndarray,
    seed: int,
    fold: int,
    settings: TrainSettings,
    element_table: np.ndarray,
    checkpoint_path: str | None = None,
    device: torch.device | None = None,
) -> tuple[CGCNN, dict]:
    """Train on the crystals where train_mask is True; resume from `checkpoint_path` if it fits.

    Under torchrun (a torch.distributed process group is initialised) every rank
    takes an equal slice of each minibatch and DistributedDataParallel averages
    the gradients, so the global batch and the update match one process except
    for BatchNorm statistics, which are synchronised on GPUs and per rank on CPUs.
    Rank 0 writes the checkpoints.
    """
    rank, world = distributed_rank_world()
    device = device or pick_device(rank)
    torch.set_num_threads(settings.threads)
    torch.manual_seed(seed * 1000 + fold)
    model = CGCNN(element_table, settings.model).to(device)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":  # SyncBatchNorm is GPU-only; on CPUs statistics stay per rank
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    net = with_cuda_graphs(net, settings=settings, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    tensors = GraphTensors(graphs, device, expand=model.expand)
    target = torch.as_tensor(labels[settings.target].to_numpy().copy(), device=device)
    train_idx = np.flatnonzero(train_mask)
    fingerprint = settings_fingerprint(settings=settings, train_ids=[graphs.ids[i] for i in train_idx], seed=seed, fold=fold)

    history, start_epoch = [], 0
    state = read_checkpoint(path=checkpoint_path, fingerprint=fingerprint, device=device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history = state["epoch"], state["history"]
        log.info("resumed from %s at epoch %d", checkpoint_path, start_epoch)

    started = time.perf_counter()
    for epoch in range(start_epoch, settings.epochs):
        model.train()
        # The shuffle depends only on (seed, fold, epoch): a resumed run sees the same batches.
        order = np.random.default_rng([seed, fold, epoch]).permutation(train_idx)
        total, count = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            crystals = order[start : start + settings.batch_size]
            # BatchNorm needs two samples per rank; a short tail is re-drawn next epoch.
            if len(crystals) < 2 * world:
                continue
            crystals = crystals[rank::world]
            batch_target = target[torch.as_tensor(crystals, device=device)]
            loss = _loss(net, tensors.batch(crystals), batch_target, settings.model.task)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(crystals)
            count += len(crystals)
        history.append(_global_mean(total, count, world))
        done = epoch + 1
        if rank == 0:
            elapsed = time.perf_counter() - started
            left = elapsed / (done - start_epoch) * (settings.epochs - done)
            log.info(
                "seed %d fold %d epoch %d/%d: train loss %.4f, %.1f s elapsed, about %.1f s left",
                seed, fold, done, settings.epochs, history[-1], elapsed, left,
            )  # fmt: skip
        if rank == 0 and checkpoint_path and (done % settings.checkpoint_every == 0 or done == settings.epochs):
            write_checkpoint(
                path=checkpoint_path,
                fingerprint=fingerprint,
                epoch=done,
                history=history,
                model_state=model.state_dict(),
                optimizer_state=optimizer.state_dict(),
            )
            log.info("checkpoint written at epoch %d: %s", done, checkpoint_path)
    return model, {"train_loss": history, "device": str(device)}


def held_out_mask(*, folds_csv: str, seed: int, fold: int, ids: list[str]) -> np.ndarray:
    """The crystals of `fold` under `seed`'s fold assignment; an empty fold is an error."""
    test_mask = fold_assignment(folds=folds_csv, seed=seed, ids=ids) == fold
    if not test_mask.any():
        raise ValueError(f"{folds_csv}: fold {fold} of seed {seed} holds no configuration")
    return test_mask


def checkpoint_beside(*, model_out: str) -> str:
    """Where a model's resumable checkpoint lives (removed once the model is written)."""
    return os.path.join(os.path.dirname(model_out), "checkpoint.pt")


def run_fold(
    *,
    graph_paths: list[str],
    labels_csv: str,
    folds_csv: str,
    fold: int,
    seed: int,
    settings: TrainSettings,
    model_out: str,
    metrics_out: str,
    predictions_out: str,
) -> dict:
    """One (fold, seed) job: train, score the held-out fold, write model, metrics, predictions."""
    t0 = time.perf_counter()
    # Scheduler evidence in the job log: which GPU SLURM handed this job, if any.
    log.info(
        "seed %d fold %d on %s, CUDA_VISIBLE_DEVICES=%s, SLURM_JOB_ID=%s",
        seed,
        fold,
        pick_device(),
        os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        os.environ.get("SLURM_JOB_ID", ""),
    )
    graphs, labels = load_training_data(graph_paths=graph_paths, labels_csv=labels_csv)
    test_mask = held_out_mask(folds_csv=folds_csv, seed=seed, fold=fold, ids=graphs.ids)
    element_table = read_element_table(graph_paths[0])
    checkpoint = checkpoint_beside(model_out=model_out)
    model, info = train_one(
        graphs=graphs,
        labels=labels,
        train_mask=~test_mask,
        seed=seed,
        fold=fold,
        settings=settings,
        element_table=element_table,
        checkpoint_path=checkpoint,
    )

    return finish_fold(
        model=model,
        info=info,
        graphs=graphs,
        labels=labels,
        test_mask=test_mask,
        seed=seed,
        fold=fold,
        settings=settings,
        outputs={"model": model_out, "metrics": metrics_out, "predictions": predictions_out},
        started=t0,
        checkpoint=checkpoint,
    )


def finish_fold(
    *,
    model: CGCNN,
    info: dict,
    graphs: GraphSet,
    labels: pd.DataFrame,
    test_mask: np.ndarray,
    seed: int,
    fold: int,
    settings: TrainSettings,
    outputs: Mapping[str, str],
    started: float,
    checkpoint: str | None,
) -> dict:
    """Score a trained (fold, seed) model on its held-out fold; write model, metrics and predictions."""
    test_idx = np.flatnonzero(test_mask)
    tensors = GraphTensors(graphs, next(model.parameters()).device)
    scores = predict(model=model, tensors=tensors, crystals=test_idx, batch_size=256)
    y = labels[settings.target].to_numpy()[test_idx]
    predictions = pd.DataFrame({"id": [graphs.ids[i] for i in test_idx], "seed": seed, "fold": fold, "target": y})
    if settings.model.task == "classification":
        predictions["prob_high"] = scores
        predictions["pred"] = (scores >= 0.5).astype(int)
        metrics = classification_metrics(y_true=y, prob=scores)
    else:
        predictions["pred"] = scores
        metrics = regression_metrics(y_true=y.astype(float), pred=scores)
    metrics.update(
        {
            "seed": seed,
            "fold": fold,
            "n_train": int((~test_mask).sum()),
            "n_test": int(test_mask.sum()),
            "seconds": time.perf_counter() - started,
            **info,
        }
    )
    save_model(model=model, path=outputs["model"])
    write_csv(outputs["predictions"], predictions)
    write_json(outputs["metrics"], metrics)
    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)  # the finished model supersedes it
    log.info("seed %d fold %d: %s", seed, fold, {k: metrics[k] for k in metrics if k not in ("train_loss",)})
    return metrics


def aggregate(*, metrics_paths: list[str], predictions_paths: list[str], summary_out: str, predictions_out: str) -> dict:
    """Mean and spread of every metric over the (fold, seed) shards, plus all predictions."""
    summary = summarise_runs([read_json(path) for path in metrics_paths])
    predictions = pd.concat([pd.read_csv(p) for p in predictions_paths], ignore_index=True)
    predictions = predictions.sort_values(["seed", "fold", "id"]).reset_index(drop=True)
    write_csv(predictions_out, predictions)
    write_json(summary_out, summary)
    return summary
