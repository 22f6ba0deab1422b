"""Sharded CGCNN training: one (fold, seed) per job, resumable, reproducible."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from .graphs import GraphSet, concat, read_graphs
from .io import atomic_path, write_csv, write_json
from .model import CGCNN, ModelSettings

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    checkpoint_every: int = 5
    threads: int = 1
    model: ModelSettings = field(default_factory=ModelSettings)
    target: str = "label"  # column of labels.csv; regression targets need task=regression

    @classmethod
    def from_config(cls, train: dict, cutoff: float) -> "TrainSettings":
        model = ModelSettings(
            atom_fea_len=train["atom_fea_len"],
            n_conv=train["n_conv"],
            h_fea_len=train["h_fea_len"],
            cutoff=cutoff,
            gaussian_step=train["gaussian_step"],
            task=train.get("task", "classification"),
        )
        return cls(
            epochs=train["epochs"],
            batch_size=train["batch_size"],
            learning_rate=train["learning_rate"],
            weight_decay=train["weight_decay"],
            checkpoint_every=train["checkpoint_every"],
            threads=train["threads"],
            model=model,
            target=train.get("target", "label"),
        )


# --- folds ----------------------------------------------------------------


def stratified_folds(labels: pd.DataFrame, n_folds: int, seeds: list[int]) -> pd.DataFrame:
    """Fold of every configuration for every seed (StratifiedKFold on the class label)."""
    from sklearn.model_selection import StratifiedKFold

    ids = labels["id"].to_numpy()
    y = labels["label"].to_numpy()
    if np.bincount(y, minlength=2).min() < n_folds:
        raise ValueError(
            f"{n_folds} folds need at least {n_folds} configurations per class; "
            f"class counts are {np.bincount(y, minlength=2).tolist()}"
        )
    rows = []
    for seed in seeds:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        fold = np.empty(len(ids), dtype=int)
        for k, (_, test) in enumerate(splitter.split(ids, y)):
            fold[test] = k
        rows.append(pd.DataFrame({"id": ids, "seed": seed, "fold": fold}))
    return pd.concat(rows, ignore_index=True)


# --- batches --------------------------------------------------------------


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


class GraphTensors:
    """A GraphSet held as torch tensors on one device, batched by crystal index.

    With `expand` (the model's parameter-free Gaussian expansion) the expanded
    edge features are computed once and reused every epoch, when they fit in
    `cache_bytes`; otherwise the model expands each batch itself.
    """

    def __init__(self, graphs: GraphSet, device: torch.device, expand=None, cache_bytes: float = 512e6):
        self.graphs = graphs
        self.device = device
        self.atom_offsets = graphs.atom_offsets.astype(np.int64)
        self.edge_offsets = graphs.edge_offsets.astype(np.int64)
        as_t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt).to(device)  # noqa: E731
        self.atom_z = as_t(graphs.atom_z, torch.long)
        self.edge_src = as_t(graphs.edge_src, torch.long)
        self.edge_dst = as_t(graphs.edge_dst, torch.long)
        self.edge_dist = as_t(graphs.edge_dist, torch.float32)
        self.edge_fea = None
        if expand is not None and self.edge_dist.numel() * expand.size * 4 <= cache_bytes:
            with torch.no_grad():
                self.edge_fea = expand(self.edge_dist)

    def batch(self, crystals: np.ndarray) -> dict:
        a0 = self.atom_offsets[crystals]
        n_atoms = self.atom_offsets[crystals + 1] - a0
        e0 = self.edge_offsets[crystals]
        n_edges = self.edge_offsets[crystals + 1] - e0
        atom_idx = _ranges(a0, n_atoms)
        edge_idx = _ranges(e0, n_edges)
        new_start = np.cumsum(n_atoms) - n_atoms
        shift = torch.as_tensor(np.repeat(new_start, n_edges), device=self.device)
        edge_idx_t = torch.as_tensor(edge_idx, device=self.device)
        batch = {
            "atom_z": self.atom_z[torch.as_tensor(atom_idx, device=self.device)],
            "edge_src": self.edge_src[edge_idx_t] + shift,
            "edge_dst": self.edge_dst[edge_idx_t] + shift,
            "edge_dist": self.edge_dist[edge_idx_t],
            "crystal_of_atom": torch.as_tensor(np.repeat(np.arange(len(crystals)), n_atoms), device=self.device),
            "n_atoms": torch.as_tensor(n_atoms, device=self.device),
        }
        if self.edge_fea is not None:
            batch["edge_fea"] = self.edge_fea[edge_idx_t]
        return batch


# --- training -------------------------------------------------------------


def pick_device(rank: int = 0) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", rank % torch.cuda.device_count())
    return torch.device("cpu")


def distributed_rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _global_mean(total: float, count: int, world: int) -> float:
    """Mean training loss of an epoch over all ranks."""
    if world > 1:
        import torch.distributed as dist

        sums = torch.tensor([total, float(count)], dtype=torch.float64)
        dist.all_reduce(sums)
        total, count = float(sums[0]), int(sums[1])
    return total / max(count, 1)


def settings_fingerprint(settings: TrainSettings, train_ids: list[str], seed: int, fold: int) -> str:
    """Identifies a run; a checkpoint from any other run is never resumed.

    The epoch count is left out: training longer continues the same trajectory.
    """
    fixed = {k: v for k, v in asdict(settings).items() if k not in ("epochs", "checkpoint_every", "threads")}
    blob = json.dumps({"settings": fixed, "ids": train_ids, "seed": seed, "fold": fold}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _loss(model, batch: dict, target: torch.Tensor, task: str) -> torch.Tensor:
    out = model(batch)
    if task == "classification":
        return F.cross_entropy(out, target.long())
    return F.mse_loss(out[:, 0], target.float())


def predict(model: CGCNN, tensors: GraphTensors, crystals: np.ndarray, batch_size: int) -> np.ndarray:
    """P(high) per crystal (classification) or the predicted value (regression)."""
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(crystals), batch_size):
            out = model(tensors.batch(crystals[start : start + batch_size]))
            outs.append(torch.softmax(out, dim=1)[:, 1] if model.settings.task == "classification" else out[:, 0])
    return torch.cat(outs).cpu().numpy() if outs else np.zeros(0)


CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "f1")


def classification_metrics(y_true: np.ndarray, prob: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    pred = (prob >= 0.5).astype(int)
    both = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)),
        "roc_auc": float(roc_auc_score(y_true, prob)) if both else float("nan"),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
    }


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict:
    err = pred - y_true
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
    }


def load_training_data(graph_paths: list[str], labels_csv: str) -> tuple[GraphSet, pd.DataFrame]:
    """All graph shards, and the labels in the same crystal order."""
    graphs = concat([read_graphs(p) for p in graph_paths])
    labels = pd.read_csv(labels_csv).set_index("id")
    missing = sorted(set(labels.index) - set(graphs.ids))
    if missing:
        raise ValueError(f"{len(missing)} labelled configurations have no graph (e.g. {missing[:3]}): rebuild the graphs")
    return graphs, labels.loc[graphs.ids].reset_index()


def train_one(
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
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    tensors = GraphTensors(graphs, device, expand=model.expand)
    target = torch.as_tensor(labels[settings.target].to_numpy().copy(), device=device)
    train_idx = np.flatnonzero(train_mask)
    fingerprint = settings_fingerprint(settings, [graphs.ids[i] for i in train_idx], seed, fold)

    history, start_epoch = [], 0
    if checkpoint_path and os.path.exists(checkpoint_path):
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state.get("fingerprint") == fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch, history = state["epoch"], state["history"]
            log.info("resumed from %s at epoch %d", checkpoint_path, start_epoch)
        else:
            log.warning("ignoring %s: written by a run with other settings or data", checkpoint_path)

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
            loss = _loss(net, tensors.batch(crystals), target[torch.as_tensor(crystals, device=device)], settings.model.task)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(crystals)
            count += len(crystals)
        history.append(_global_mean(total, count, world))
        done = epoch + 1
        if rank == 0 and checkpoint_path and (done % settings.checkpoint_every == 0 or done == settings.epochs):
            with atomic_path(checkpoint_path) as tmp:
                torch.save(
                    {
                        "fingerprint": fingerprint,
                        "epoch": done,
                        "history": history,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                    },
                    tmp,
                )
    return model, {"train_loss": history, "device": str(device)}


def run_fold(
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
    log.info("seed %d fold %d on %s, CUDA_VISIBLE_DEVICES=%s, SLURM_JOB_ID=%s", seed, fold, pick_device(),
             os.environ.get("CUDA_VISIBLE_DEVICES", ""), os.environ.get("SLURM_JOB_ID", ""))
    graphs, labels = load_training_data(graph_paths, labels_csv)
    folds = pd.read_csv(folds_csv)
    folds = folds[folds["seed"] == seed].set_index("id").loc[graphs.ids, "fold"].to_numpy()
    test_mask = folds == fold
    if not test_mask.any():
        raise ValueError(f"fold {fold} of seed {seed} holds no configuration")
    element_table = read_element_table(graph_paths[0])
    checkpoint = os.path.join(os.path.dirname(model_out), "checkpoint.pt")
    model, info = train_one(graphs, labels, ~test_mask, seed, fold, settings, element_table, checkpoint)

    test_idx = np.flatnonzero(test_mask)
    scores = predict(model, GraphTensors(graphs, next(model.parameters()).device), test_idx, 256)
    y = labels[settings.target].to_numpy()[test_idx]
    predictions = pd.DataFrame({"id": [graphs.ids[i] for i in test_idx], "seed": seed, "fold": fold, "target": y})
    if settings.model.task == "classification":
        predictions["prob_high"] = scores
        predictions["pred"] = (scores >= 0.5).astype(int)
        metrics = classification_metrics(y, scores)
    else:
        predictions["pred"] = scores
        metrics = regression_metrics(y.astype(float), scores)
    metrics.update(
        {
            "seed": seed,
            "fold": fold,
            "n_train": int((~test_mask).sum()),
            "n_test": int(test_mask.sum()),
            "seconds": time.perf_counter() - t0,
            **info,
        }
    )
    with atomic_path(model_out) as tmp:
        torch.save({"model": model.state_dict(), "settings": asdict(settings.model)}, tmp)
    write_csv(predictions_out, predictions)
    write_json(metrics_out, metrics)
    if os.path.exists(checkpoint):
        os.remove(checkpoint)  # the finished model supersedes it
    log.info("seed %d fold %d: %s", seed, fold, {k: metrics[k] for k in metrics if k not in ("train_loss",)})
    return metrics


def read_element_table(graph_path: str) -> np.ndarray:
    import h5py

    with h5py.File(graph_path, "r") as h5:
        return h5["element_table"][()]


def load_model(path: str, element_table: np.ndarray, device: torch.device | None = None) -> CGCNN:
    state = torch.load(path, map_location=device or "cpu", weights_only=False)
    model = CGCNN(element_table, ModelSettings(**state["settings"]))
    model.load_state_dict(state["model"])
    return model.to(device or "cpu").eval()


METRIC_NAMES = (*CLASSIFICATION_METRICS, "mae", "rmse", "r2")


def summarise_runs(runs: list[dict]) -> dict:
    """Mean, spread (std over runs, ddof 1) and values of every metric over (seed, fold) runs."""
    names = [k for k in METRIC_NAMES if k in runs[0]]
    summary = {
        name: {
            "mean": float(np.nanmean([r[name] for r in runs])),
            "std": float(np.nanstd([r[name] for r in runs], ddof=1)) if len(runs) > 1 else 0.0,
            "values": [r[name] for r in runs],
        }
        for name in names
    }
    summary["n_runs"] = len(runs)
    summary["runs"] = [{k: r[k] for k in ("seed", "fold", *names)} for r in runs]
    return summary


def aggregate(metrics_paths: list[str], predictions_paths: list[str], summary_out: str, predictions_out: str) -> dict:
    """Mean and spread of every metric over the (fold, seed) shards, plus all predictions."""
    runs = []
    for path in metrics_paths:
        with open(path) as fh:
            runs.append(json.load(fh))
    summary = summarise_runs(runs)
    predictions = pd.concat([pd.read_csv(p) for p in predictions_paths], ignore_index=True)
    predictions = predictions.sort_values(["seed", "fold", "id"]).reset_index(drop=True)
    write_csv(predictions_out, predictions)
    write_json(summary_out, summary)
    return summary
