"""Packed training: K CGCNN models trained at once as one batched computation (`train.models_per_job`).

The K models' minibatches are concatenated into one flat graph (sparse edge
lists as always), each atom, edge and crystal tagged with its model. Every
linear layer runs as one batched matmul over the model axis (rows scattered
into a [K, rows, features] block), BatchNorm keeps per-model statistics over
that model's rows only, and AdamW is applied per model (its own step count,
skipped when the model had no batch). Each model therefore follows exactly
the mathematics of `training.train_one`: same initial weights (seeded per
(seed, fold)), same shuffles, same updates, summed in another order. On a GPU
this turns K small kernel-launch-bound jobs into one; on a 2-core CPU it is
slower than one model after another.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .graphs import GraphSet
from .inference import GraphTensors, load_training_data, pick_device, read_element_table
from .model import CGCNN
from .training import (
    TrainSettings,
    checkpoint_beside,
    finish_fold,
    held_out_mask,
    read_checkpoint,
    settings_fingerprint,
    with_cuda_graphs,
    write_checkpoint,
)

log = logging.getLogger(__name__)
# Buffers every member shares (not stacked along the model axis).
SHARED = ("element_table", "expand.centres")
BETAS = (0.9, 0.999)  # torch.optim.AdamW's defaults, as train_one uses them
EPS = 1e-8


@dataclass(frozen=True, kw_only=True)
class Member:
    """One model of a pack: its seed and fold, and which crystals it trains on."""

    seed: int
    fold: int
    train_mask: np.ndarray
    checkpoint_path: str | None = None


def _rows(model_of_row: torch.Tensor, k: int) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Slot of each flat row in a [K, R] block, R, and the row count per model."""
    counts = torch.bincount(model_of_row, minlength=k)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(model_of_row.numel(), device=model_of_row.device) - starts[model_of_row]
    r = int(counts.max()) if counts.numel() else 0
    return model_of_row * r + rank, r, counts


class PackedLinear(nn.Module):
    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor | None]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack(weights))  # [K, out, in]
        self.bias = None
        if biases[0] is not None:
            self.bias = nn.Parameter(torch.stack([b.detach() for b in biases]), requires_grad=biases[0].requires_grad)

    def forward(self, x: torch.Tensor, rows: tuple, weight: torch.Tensor | None = None) -> torch.Tensor:
        slot, r, _ = rows
        w = self.weight if weight is None else weight
        k, out_features, in_features = w.shape
        block = x.new_zeros(k * r, in_features).index_copy(0, slot, x).view(k, r, in_features)
        y = torch.bmm(block, w.transpose(1, 2))
        if self.bias is not None and weight is None:
            y = y + self.bias[:, None, :]
        return y.reshape(k * r, out_features).index_select(0, slot)


class PackedBatchNorm(nn.Module):
    """BatchNorm1d per model over that model's rows only (running statistics as torch updates them)."""

    def __init__(self, norms: list[nn.BatchNorm1d]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([n.weight.detach() for n in norms]))
        self.bias = nn.Parameter(torch.stack([n.bias.detach() for n in norms]))
        self.register_buffer("running_mean", torch.stack([n.running_mean for n in norms]))
        self.register_buffer("running_var", torch.stack([n.running_var for n in norms]))
        self.register_buffer("num_batches_tracked", torch.stack([n.num_batches_tracked for n in norms]))
        self.eps, self.momentum = norms[0].eps, norms[0].momentum

    def forward(self, x: torch.Tensor, rows: tuple, model_of_row: torch.Tensor) -> torch.Tensor:
        slot, r, counts = rows
        k, width = self.weight.shape
        if self.training:
            # Sums over each model's rows as one reduction per model (as accurate as BatchNorm's own),
            # not a running index_add over thousands of rows, whose rounding training would amplify.
            def per_model_sum(values):
                return values.new_zeros(k * r, width).index_copy(0, slot, values).view(k, r, width).sum(1)

            n = counts.to(x.dtype).clamp(min=1)[:, None]
            mean = per_model_sum(x) / n
            centred = x - mean[model_of_row]
            var = per_model_sum(centred * centred) / n
            with torch.no_grad():
                active = (counts > 0)[:, None]
                unbiased = var * n / (n - 1).clamp(min=1)
                m = self.momentum
                self.running_mean.copy_(torch.where(active, (1 - m) * self.running_mean + m * mean, self.running_mean))
                self.running_var.copy_(torch.where(active, (1 - m) * self.running_var + m * unbiased, self.running_var))
                self.num_batches_tracked.add_((counts > 0).long())
            normed = centred * torch.rsqrt(var + self.eps)[model_of_row]
        else:
            normed = (x - self.running_mean[model_of_row]) * torch.rsqrt(self.running_var + self.eps)[model_of_row]
        return normed * self.weight[model_of_row] + self.bias[model_of_row]


class PackedGatedConv(nn.Module):
    def __init__(self, convs: list):
        super().__init__()
        self.full = PackedLinear([c.full.weight.detach() for c in convs], [c.full.bias for c in convs])
        self.bn_gate = PackedBatchNorm([c.bn_gate for c in convs])
        self.bn_sum = PackedBatchNorm([c.bn_sum for c in convs])

    def forward(self, atom, edge, src, dst, atom_rows, edge_rows, atom_model, edge_model):
        n = atom.shape[1]
        w = self.full.weight
        gated = (
            torch.index_select(self.full(atom, atom_rows, weight=w[:, :, :n]), 0, src)
            + torch.index_select(self.full(atom, atom_rows, weight=w[:, :, n : 2 * n]), 0, dst)
            + self.full(edge, edge_rows, weight=w[:, :, 2 * n :])
            + self.full.bias[edge_model]
        )
        gated = self.bn_gate(gated, edge_rows, edge_model)
        gate, core = gated.chunk(2, dim=1)
        messages = torch.sigmoid(gate) * F.softplus(core)
        summed = atom.new_zeros(atom.shape[0], messages.shape[1]).index_add_(0, src, messages)
        return F.softplus(atom + self.bn_sum(summed, atom_rows, atom_model))


class PackedCGCNN(nn.Module):
    """K CGCNN models with their parameters stacked along a leading model axis."""

    def __init__(self, models: Sequence[CGCNN]):
        super().__init__()
        first = models[0]
        self.k = len(models)
        self.settings = first.settings
        self.register_buffer("element_table", first.element_table.clone())
        self.expand = first.expand
        self.embed = PackedLinear([m.embed.weight.detach() for m in models], [m.embed.bias for m in models])
        self.convs = nn.ModuleList(PackedGatedConv([m.convs[i] for m in models]) for i in range(len(first.convs)))
        self.to_hidden = PackedLinear([m.to_hidden.weight.detach() for m in models], [m.to_hidden.bias for m in models])
        self.out = PackedLinear([m.out.weight.detach() for m in models], [m.out.bias for m in models])

    def forward(self, batch: dict) -> torch.Tensor:
        atom_model, edge_model, crystal_model = batch["atom_model"], batch["edge_model"], batch["crystal_model"]
        atom_rows, edge_rows = _rows(atom_model, self.k), _rows(edge_model, self.k)
        crystal_rows = _rows(crystal_model, self.k)
        atom = self.embed(self.element_table[batch["atom_z"]], atom_rows)
        edge = batch["edge_fea"] if "edge_fea" in batch else self.expand(batch["edge_dist"])
        for conv in self.convs:
            atom = conv(atom, edge, batch["edge_src"], batch["edge_dst"], atom_rows, edge_rows, atom_model, edge_model)
        n_crystals = batch["n_atoms"].shape[0]
        pooled = atom.new_zeros(n_crystals, atom.shape[1]).index_add_(0, batch["crystal_of_atom"], atom)
        pooled = pooled / batch["n_atoms"][:, None].to(pooled.dtype)
        hidden = F.softplus(self.to_hidden(F.softplus(pooled), crystal_rows))
        return self.out(hidden, crystal_rows)

    def unpacked_state(self, index: int) -> dict[str, torch.Tensor]:
        """Model `index` as a CGCNN state_dict."""
        return {name: (value if name in SHARED else value[index]).clone() for name, value in self.state_dict().items()}


def packed_batch(tensors: GraphTensors, crystals_per_model: Sequence[np.ndarray | None]) -> dict:
    """One flat graph holding every model's minibatch (None: that model sits this step out)."""
    parts, atom_shift, crystal_shift = [], 0, 0
    for k, crystals in enumerate(crystals_per_model):
        if crystals is None:
            continue
        b = tensors.batch(crystals)
        n_atoms, n_edges, n_crystals = b["atom_z"].shape[0], b["edge_src"].shape[0], b["n_atoms"].shape[0]
        b["edge_src"], b["edge_dst"] = b["edge_src"] + atom_shift, b["edge_dst"] + atom_shift
        b["crystal_of_atom"] = b["crystal_of_atom"] + crystal_shift
        device = b["atom_z"].device
        b["atom_model"] = torch.full((n_atoms,), k, device=device)
        b["edge_model"] = torch.full((n_edges,), k, device=device)
        b["crystal_model"] = torch.full((n_crystals,), k, device=device)
        atom_shift += n_atoms
        crystal_shift += n_crystals
        parts.append(b)
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


class PackedAdamW:
    """torch.optim.AdamW's update, per model: own step count, applied only to models that had a batch."""

    def __init__(self, params: list[nn.Parameter], *, k: int, lr: float, weight_decay: float):
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = torch.zeros(k, dtype=torch.float64)

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        self.steps += active.double()
        beta1, beta2 = BETAS
        step = self.steps.clamp(min=1)
        bias1 = 1 - beta1**step
        bias2_sqrt = torch.sqrt(1 - beta2**step)
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:  # frozen, as torch.optim skips it
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            on = active.to(p.device).view(shape)
            grad = p.grad
            new_p = p * (1 - self.lr * self.weight_decay)
            new_m = m.lerp(grad, 1 - beta1)
            new_v = v * beta2 + (1 - beta2) * grad * grad
            step_size = (self.lr / bias1).to(p.dtype).to(p.device).view(shape)
            denom = new_v.sqrt() / bias2_sqrt.to(p.dtype).to(p.device).view(shape) + EPS
            new_p = new_p - step_size * new_m / denom
            p.copy_(torch.where(on, new_p, p))
            m.copy_(torch.where(on, new_m, m))
            v.copy_(torch.where(on, new_v, v))

    def torch_state(self, index: int, model: CGCNN) -> dict:
        """Model `index`'s optimiser state in torch.optim.AdamW's format (interchangeable with train_one's)."""
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for p_model, m, v in zip(model.parameters(), self.exp_avg, self.exp_avg_sq):
            if not p_model.requires_grad:
                continue
            optimizer.state[p_model] = {
                "step": torch.tensor(float(self.steps[index])),
                "exp_avg": m[index].clone(),
                "exp_avg_sq": v[index].clone(),
            }
        return optimizer.state_dict()

    def load_torch_state(self, index: int, state: dict) -> None:
        for i, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq)):
            entry = state["state"].get(i)
            if entry is None:
                continue
            m[index].copy_(entry["exp_avg"])
            v[index].copy_(entry["exp_avg_sq"])
            self.steps[index] = float(entry["step"])


def _stop_after_epoch() -> int | None:
    """Test hook: stop (as if killed) after this epoch, leaving the checkpoints written so far."""
    value = os.environ.get("ADVCGCNN_STOP_AFTER_EPOCH")
    return int(value) if value else None


def train_packed(
    *,
    graphs: GraphSet,
    labels: pd.DataFrame,
    members: Sequence[Member],
    settings: TrainSettings,
    element_table: np.ndarray,
    device: torch.device | None = None,
) -> tuple[list[CGCNN], list[dict]]:
    """Train every member at once; returns one CGCNN and one info dict per member, as train_one does."""
    device = device or pick_device()
    torch.set_num_threads(settings.threads)
    singles = []
    for member in members:  # each model's initial weights exactly as train_one draws them
        torch.manual_seed(member.seed * 1000 + member.fold)
        singles.append(CGCNN(element_table, settings.model).to(device))
    packed = PackedCGCNN(singles).to(device)
    optimizer = PackedAdamW(
        list(packed.parameters()), k=len(members), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    tensors = GraphTensors(graphs, device, expand=packed.expand)
    target = torch.as_tensor(labels[settings.target].to_numpy().copy(), device=device)
    train_idx = [np.flatnonzero(m.train_mask) for m in members]
    fingerprints = [
        settings_fingerprint(settings=settings, train_ids=[graphs.ids[i] for i in idx], seed=m.seed, fold=m.fold)
        for m, idx in zip(members, train_idx)
    ]
    histories: list[list[float]] = [[] for _ in members]
    start_epoch = _resume(
        packed=packed, optimizer=optimizer, members=members, fingerprints=fingerprints, histories=histories, device=device
    )

    forward = with_cuda_graphs(packed, settings=settings, device=device)
    stop_after = _stop_after_epoch()
    started = time.perf_counter()
    for epoch in range(start_epoch, settings.epochs):
        packed.train()
        orders = [np.random.default_rng([m.seed, m.fold, epoch]).permutation(idx) for m, idx in zip(members, train_idx)]
        n_steps = max(-(-len(o) // settings.batch_size) for o in orders)
        totals, counts = np.zeros(len(members)), np.zeros(len(members), dtype=int)
        for step in range(n_steps):
            chosen = []
            for order in orders:
                crystals = order[step * settings.batch_size : (step + 1) * settings.batch_size]
                # As in train_one: BatchNorm needs two samples; a short tail is re-drawn next epoch.
                chosen.append(crystals if len(crystals) >= 2 else None)
            active = torch.tensor([c is not None for c in chosen])
            if not active.any():
                continue
            batch = packed_batch(tensors, chosen)
            out = forward(batch)
            batch_target = torch.cat([target[torch.as_tensor(c, device=device)] for c in chosen if c is not None])
            losses = _per_model_losses(out, batch_target, batch["crystal_model"], k=len(members), task=settings.model.task)
            for p in packed.parameters():
                p.grad = None
            losses.sum().backward()
            optimizer.step(active)
            for k, c in enumerate(chosen):
                if c is not None:
                    totals[k] += float(losses[k].detach()) * len(c)
                    counts[k] += len(c)
        for k in range(len(members)):
            histories[k].append(totals[k] / max(counts[k], 1))
        done = epoch + 1
        log.info(
            "pack of %d epoch %d/%d: train loss %s, %.1f s elapsed",
            len(members), done, settings.epochs, [round(h[-1], 4) for h in histories], time.perf_counter() - started,
        )  # fmt: skip
        if done % settings.checkpoint_every == 0 or done == settings.epochs:
            _checkpoint(
                packed=packed,
                optimizer=optimizer,
                members=members,
                singles=singles,
                fingerprints=fingerprints,
                histories=histories,
                epoch=done,
            )
        if stop_after is not None and done >= stop_after:
            raise SystemExit(f"stopped after epoch {done} (ADVCGCNN_STOP_AFTER_EPOCH)")

    models = []
    for k, single in enumerate(singles):
        single.load_state_dict(packed.unpacked_state(k))
        models.append(single.eval())
    return models, [{"train_loss": h, "device": str(device), "packed_with": len(members)} for h in histories]


def _per_model_losses(out: torch.Tensor, target: torch.Tensor, crystal_model: torch.Tensor, *, k: int, task: str) -> torch.Tensor:
    """Each model's mean loss over its own crystals (the sum's gradient is each model's own gradient)."""
    if task == "classification":
        per_crystal = F.cross_entropy(out, target.long(), reduction="none")
    else:
        per_crystal = F.mse_loss(out[:, 0], target.float(), reduction="none")
    sums = per_crystal.new_zeros(k).index_add(0, crystal_model, per_crystal)
    counts = torch.bincount(crystal_model, minlength=k).to(per_crystal.dtype)
    return sums / counts.clamp(min=1)


def _checkpoint(*, packed, optimizer, members, singles, fingerprints, histories, epoch) -> None:
    """One checkpoint per member, in train_one's format: a pack resumes, or its models resume alone."""
    for k, member in enumerate(members):
        if not member.checkpoint_path:
            continue
        single = singles[k]
        single.load_state_dict(packed.unpacked_state(k))
        write_checkpoint(
            path=member.checkpoint_path,
            fingerprint=fingerprints[k],
            epoch=epoch,
            history=histories[k],
            model_state=single.state_dict(),
            optimizer_state=optimizer.torch_state(k, single),
        )
    log.info("checkpoints written at epoch %d", epoch)


def _resume(*, packed, optimizer, members, fingerprints, histories, device) -> int:
    """Resume when every member has a checkpoint of its own run at one epoch; else start afresh."""
    states = []
    for member, fingerprint in zip(members, fingerprints):
        state = read_checkpoint(path=member.checkpoint_path, fingerprint=fingerprint, device=device)
        if state is None:
            return 0
        states.append(state)
    if len({s["epoch"] for s in states}) != 1:
        log.warning("member checkpoints stand at different epochs %s: starting afresh", [s["epoch"] for s in states])
        return 0
    own = packed.state_dict()
    with torch.no_grad():
        for k, state in enumerate(states):
            for name, value in state["model"].items():
                if name not in SHARED:
                    own[name][k].copy_(value)
            optimizer.load_torch_state(k, state["optimizer"])
            histories[k][:] = state["history"]
    log.info("resumed a pack of %d at epoch %d", len(members), states[0]["epoch"])
    return int(states[0]["epoch"])


def run_pack(
    *,
    graph_paths: list[str],
    labels_csv: str,
    folds_csv: str,
    members: Sequence[tuple[int, int]],
    settings: TrainSettings,
    outputs: Sequence[Mapping[str, str]],
) -> list[dict]:
    """One packed job: the (seed, fold) models in `members`, each written where its own job would write it."""
    t0 = time.perf_counter()
    log.info(
        "pack %s on %s, CUDA_VISIBLE_DEVICES=%s, SLURM_JOB_ID=%s",
        [f"seed{s}/fold{f}" for s, f in members], pick_device(),
        os.environ.get("CUDA_VISIBLE_DEVICES", ""), os.environ.get("SLURM_JOB_ID", ""),
    )  # fmt: skip
    graphs, labels = load_training_data(graph_paths=graph_paths, labels_csv=labels_csv)
    element_table = read_element_table(graph_paths[0])
    test_masks, packed_members = [], []
    for (seed, fold), out in zip(members, outputs, strict=True):
        test_mask = held_out_mask(folds_csv=folds_csv, seed=seed, fold=fold, ids=graphs.ids)
        checkpoint = checkpoint_beside(model_out=out["model"])
        packed_members.append(Member(seed=seed, fold=fold, train_mask=~test_mask, checkpoint_path=checkpoint))
        test_masks.append(test_mask)
    models, infos = train_packed(
        graphs=graphs, labels=labels, members=packed_members, settings=settings, element_table=element_table
    )
    return [
        finish_fold(
            model=model,
            info=info,
            graphs=graphs,
            labels=labels,
            test_mask=test_mask,
            seed=m.seed,
            fold=m.fold,
            settings=settings,
            outputs=out,
            started=t0,
            checkpoint=m.checkpoint_path,
        )  # fmt: skip
        for model, info, test_mask, m, out in zip(models, infos, test_masks, packed_members, outputs)
    ]
