"""Perturbation sweeps: CGCNN accuracy against random displacement amplitude.

Two modes per (sigma, seed) point, on the same stratified folds as the baseline:
- train: train on perturbed inputs and test on perturbed held-out folds
  (the study's low-performance classifier);
- evaluate: score the baseline models on perturbed held-out folds.
"""

from __future__ import annotations

import logging
import time
from typing import Literal, get_args

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from .folds import fold_assignment
from .inference import GraphTensors, load_model, load_training_data, predict, read_element_table
from .io import read_json, save_figure, write_csv, write_json
from .metrics import CLASSIFICATION_METRICS, classification_metrics
from .perturb import perturbed_graphs
from .training import TrainSettings, train_one
from .verdicts import accuracy_trend

log = logging.getLogger(__name__)
SweepMode = Literal["train", "evaluate"]
MODES: tuple[SweepMode, ...] = get_args(SweepMode)


def run_point(
    *,
    mode: SweepMode,
    sigma: float,
    seed: int,
    split_seed: int,
    graph_paths: list[str],
    labels_csv: str,
    folds_csv: str,
    settings: TrainSettings,
    baseline_models: dict[int, str],
    metrics_out: str,
    predictions_out: str,
    models_per_job: int = 1,
) -> pd.DataFrame:
    """One sweep point; `baseline_models` maps fold -> model path (evaluate mode).

    In train mode with `models_per_job` > 1 the fold models train packed (`packed`), that many at once.

    `seed` draws the displacements and initialises the models; `split_seed` picks the
    fold split. In evaluate mode `split_seed` must be the split the baseline models
    were trained on, or test folds would leak.
    """
    if mode not in MODES:
        raise ValueError(f"unknown sweep mode {mode!r}; choose from {MODES}")
    t0 = time.perf_counter()
    graphs, labels = load_training_data(graph_paths=graph_paths, labels_csv=labels_csv)
    perturbed = perturbed_graphs(graphs, sigma=sigma, seed=seed)
    folds = fold_assignment(folds=folds_csv, seed=split_seed, ids=graphs.ids)
    table = read_element_table(graph_paths[0])
    device = torch.device("cpu")
    torch.set_num_threads(settings.threads)
    y = labels["label"].to_numpy()
    rows, per_fold = [], []
    packed = {}
    if mode == "train" and models_per_job > 1:
        from .packed import Member, train_packed

        fold_ids = [int(f) for f in np.unique(folds)]
        for start in range(0, len(fold_ids), models_per_job):
            members = [Member(seed=seed, fold=f, train_mask=folds != f) for f in fold_ids[start : start + models_per_job]]
            models, _ = train_packed(graphs=perturbed, labels=labels, members=members, settings=settings, element_table=table)
            packed.update({m.fold: model for m, model in zip(members, models)})
    for fold in np.unique(folds):
        test = folds == fold
        if int(fold) in packed:
            model = packed[int(fold)]
        elif mode == "train":
            model, _ = train_one(
                graphs=perturbed,
                labels=labels,
                train_mask=~test,
                seed=seed,
                fold=int(fold),
                settings=settings,
                element_table=table,
            )
        else:
            model = load_model(path=baseline_models[int(fold)], element_table=table, device=device)
        idx = np.flatnonzero(test)
        tensors = GraphTensors(perturbed, next(model.parameters()).device)
        prob = predict(model=model, tensors=tensors, crystals=idx, batch_size=256)
        per_fold.append({"fold": int(fold), **classification_metrics(y_true=y[idx], prob=prob)})
        log.info(
            "%s sigma=%g seed=%d: fold %d done (%d of %d), accuracy %.3f, %.1f s elapsed",
            mode, sigma, seed, int(fold), len(per_fold), len(np.unique(folds)), per_fold[-1]["accuracy"],
            time.perf_counter() - t0,
        )  # fmt: skip
        rows.append(
            pd.DataFrame(
                {
                    "id": [graphs.ids[i] for i in idx],
                    "mode": mode,
                    "sigma": sigma,
                    "seed": seed,
                    "fold": int(fold),
                    "target": y[idx],
                    "prob_high": prob,
                    "pred": (prob >= 0.5).astype(int),
                }
            )
        )
    predictions = pd.concat(rows, ignore_index=True).sort_values("id").reset_index(drop=True)
    write_csv(predictions_out, predictions)
    write_json(
        metrics_out,
        {"mode": mode, "sigma": sigma, "seed": seed, "folds": per_fold, "seconds": time.perf_counter() - t0},
    )
    log.info("%s sigma=%g seed=%d: accuracy %s", mode, sigma, seed, [round(f["accuracy"], 3) for f in per_fold])
    return predictions


def aggregate_curve(*, metrics_paths: list[str], alpha: float, curve_out: str, trend_out: str, figure_out: str) -> pd.DataFrame:
    """Accuracy/ROC-AUC against sigma with spread over seeds and folds, plus the trend test at `alpha`."""
    rows = []
    for path in metrics_paths:
        point = read_json(path)
        for f in point["folds"]:
            rows.append({"mode": point["mode"], "sigma": point["sigma"], "seed": point["seed"], **f})
    runs = pd.DataFrame(rows)
    metrics = list(CLASSIFICATION_METRICS)
    curve = runs.groupby(["mode", "sigma"])[metrics].agg(["mean", "std", "count"])
    curve.columns = [f"{m}_{s}" for m, s in curve.columns]
    curve = curve.reset_index()
    write_csv(curve_out, curve)

    trend = {}
    for mode, part in runs.groupby("mode"):
        rho, p = spearmanr(part["sigma"], part["accuracy"]) if part["sigma"].nunique() > 1 else (np.nan, np.nan)
        means = curve[curve["mode"] == mode].set_index("sigma")["accuracy_mean"]
        trend[mode] = {
            "spearman_rho_accuracy_vs_sigma": float(rho),
            "n_points": int(len(part)),
            "p_value": float(p),
            "accuracy_at_smallest_sigma": float(means.iloc[0]),
            "accuracy_at_largest_sigma": float(means.iloc[-1]),
            **accuracy_trend(rho=float(rho), p_value=float(p), alpha=alpha),
        }
        log.info("%s: %s (rho=%.3f, p=%.3g)", mode, trend[mode]["verdict"], rho, p)
    write_json(trend_out, trend)
    plot_curve(curve, figure_out)
    return curve


def plot_curve(curve: pd.DataFrame, figure_out: str) -> None:
    import matplotlib  # plotting libraries load only in the jobs that draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, metric, name in zip(axes, ["accuracy", "roc_auc"], ["accuracy", "ROC-AUC"]):
        for mode, part in curve.groupby("mode"):
            label = "trained on perturbed" if mode == "train" else "baseline on perturbed"
            ax.errorbar(part["sigma"], part[f"{metric}_mean"], yerr=part[f"{metric}_std"], marker="o", capsize=3, label=label)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("displacement amplitude sigma (Å)")
        ax.set_ylabel(f"{name} (held-out folds)")
        ax.legend(fontsize=8)
    save_figure(fig, figure_out)
