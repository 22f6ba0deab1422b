"""Fragility per configuration, free of retraining noise, and its association with disorder.

Two continuous measures, both from the baseline models alone (nothing is retrained):
- flip probability: over `n_draws` seeded random displacements at each sigma, the share of
  draws for which the baseline model that held the configuration out changes its class;
- flip norm: the smallest L2 displacement of the gradient attack that flips it (from
  `gradient_attack.csv`; configurations no budget flips rank as the most robust).

Each disorder descriptor is tested against each measure with composition (x) and the
baseline margin |P(high) - 0.5| held fixed (partial rank correlation), a bootstrap
interval, and Benjamini-Hochberg across descriptors (`scipy.stats.false_discovery_control`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .descriptors import DISORDER_DIRECTION
from .graphs import GraphSet
from .inference import GraphTensors, load_model, predict
from .perturb import CandidatePairs, perturbed_graphs
from .statistics import bh_adjusted, bootstrap_partial_spearman, detectable_correlation, partial_p_value, partial_spearman

PREDICT_BATCH = 512


def draw_seed(*, seed: int, draw: int) -> int:
    """Independent, reproducible seed of one displacement draw."""
    return int(np.random.SeedSequence([seed, draw]).generate_state(1)[0])


def flip_probabilities(
    *,
    graphs: GraphSet,
    folds: np.ndarray,
    models: dict[int, str],
    element_table: np.ndarray,
    sigmas: list[float],
    n_draws: int,
    seed: int,
) -> pd.DataFrame:
    """Share of `n_draws` displacements at each sigma that change the held-out baseline model's class."""
    device = torch.device("cpu")
    loaded = {fold: load_model(path=path, element_table=element_table, device=device) for fold, path in models.items()}
    held_out = {fold: np.flatnonzero(folds == fold) for fold in loaded}

    def classes(graph_set: GraphSet) -> tuple[np.ndarray, np.ndarray]:
        tensors = GraphTensors(graph_set, device)
        prob = np.full(len(graph_set), np.nan)
        for fold, model in loaded.items():
            prob[held_out[fold]] = predict(model=model, tensors=tensors, crystals=held_out[fold], batch_size=PREDICT_BATCH)
        return prob, (prob >= 0.5).astype(int)

    base_prob, base_class = classes(graphs)
    positive = [s for s in sigmas if s > 0]
    # One Verlet list serves every draw (the displacement generator also keys on sigma).
    candidates = CandidatePairs(graphs, max_shift=max(0.5, 5.0 * max(positive))) if positive else None
    rows = []
    for sigma in positive:
        flips = np.zeros(len(graphs))
        for draw in range(n_draws):
            moved = perturbed_graphs(graphs, sigma=sigma, seed=draw_seed(seed=seed, draw=draw), candidates=candidates)
            flips += classes(moved)[1] != base_class
        rows.append(pd.DataFrame({"id": graphs.ids, "sigma": sigma, "flip_probability": flips / n_draws}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["id", "sigma", "flip_probability"])
    base = pd.DataFrame({"id": graphs.ids, "baseline_prob": base_prob, "baseline_margin": np.abs(base_prob - 0.5)})
    return table.merge(base, on="id")


def fragility_measures(*, flips: pd.DataFrame, attack: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: mean flip probability over sigmas, flip norm, baseline margin."""
    per_id = flips.groupby("id").agg(flip_probability=("flip_probability", "mean"), baseline_margin=("baseline_margin", "first"))
    if not attack.empty:
        norm = attack.set_index("id")["flip_norm"]
        # Never flipped within the largest budget: more robust than every flipped one.
        per_id["flip_norm"] = norm.reindex(per_id.index).fillna(np.inf)
    return per_id.reset_index()


def associations(
    *,
    measures: pd.DataFrame,
    descriptors: pd.DataFrame,
    labels: pd.DataFrame,
    names: list[str],
    n_boot: int,
    seed: int,
    alpha: float,
) -> pd.DataFrame:
    """Partial rank correlation of each disorder descriptor (signed so that larger = more disorder) with
    fragility (flip probability; and minus the flip norm), x and the baseline margin held fixed."""
    data = measures.merge(descriptors, on="id").merge(labels[["id", "x"]], on="id")
    fragility = {"flip_probability": data["flip_probability"].to_numpy(float)}
    if "flip_norm" in data:
        fragility["minus_flip_norm"] = -data["flip_norm"].to_numpy(float)
    controls = [data["x"].to_numpy(float), data["baseline_margin"].to_numpy(float)]
    rows = []
    for measure, values in fragility.items():
        for name in names:
            direction = DISORDER_DIRECTION.get(name, 0)
            if direction == 0:
                continue
            disorder = direction * data[name].to_numpy(float)
            finite = np.isfinite(disorder) & ~np.isnan(values)
            a, b = disorder[finite], values[finite]
            cs = [c[finite] for c in controls]
            n = int(finite.sum())
            varies = n > 5 and np.ptp(a) > 0 and np.ptp(b) > 0
            r = partial_spearman(a, b, controls=cs) if varies else float("nan")
            p = partial_p_value(r, n=n, n_controls=len(controls))
            lo, hi = (
                bootstrap_partial_spearman(a, b, controls=cs, n_boot=n_boot, seed=seed, level=1 - alpha)
                if varies
                else (np.nan, np.nan)
            )
            rows.append(
                {
                    "measure": measure,
                    "descriptor": name,
                    "n": n,
                    "partial_rho": r,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "detectable_rho": detectable_correlation(n=max(n - len(controls), 0), alpha=alpha),
                }
            )
    table = pd.DataFrame(rows)
    table["p_adjusted_bh"] = np.nan
    for _, part in table.groupby("measure"):
        table.loc[part.index, "p_adjusted_bh"] = bh_adjusted(part["p_value"].to_numpy())
    return table
