"""The one fold assignment: stratified K-fold splits per seed, read back by every model."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from .errors import DatasetError


def fold_groups(labels: pd.DataFrame) -> np.ndarray:
    """What must stay in one fold: the arrangement orbit where known (labels' `orbit`), else the configuration."""
    ids = labels["id"].astype(str).to_numpy()
    if "orbit" not in labels:
        return ids
    orbit = labels["orbit"].fillna("").astype(str).to_numpy()
    return np.where(orbit != "", orbit, ids)


def stratified_folds(*, labels: pd.DataFrame, n_folds: int, seeds: Sequence[int]) -> pd.DataFrame:
    """Fold of every configuration for every seed, stratified on the class label.

    No arrangement orbit straddles folds: where two configurations share one (ingestion
    keeps one per orbit, so only in tables made elsewhere) StratifiedGroupKFold keeps them
    together; otherwise StratifiedKFold, whose splits are the same as before groups existed.
    """
    ids = labels["id"].to_numpy()
    groups = fold_groups(labels)
    grouped = len(np.unique(groups)) < len(groups)
    y = labels["label"].to_numpy()
    counts = np.bincount(y, minlength=2)
    if counts.min() < n_folds:
        raise DatasetError(
            f"{n_folds} folds need at least {n_folds} configurations per class; class counts are "
            f"{counts.tolist()} (lower train.folds, or change label.rule / label.top_fraction)"
        )
    rows = []
    for seed in seeds:
        if grouped:
            splits = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(ids, y, groups)
        else:
            splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(ids, y)
        fold = np.empty(len(ids), dtype=int)
        for k, (_, test) in enumerate(splits):
            fold[test] = k
        rows.append(pd.DataFrame({"id": ids, "seed": seed, "fold": fold}))
    return pd.concat(rows, ignore_index=True)


def fold_assignment(*, folds: pd.DataFrame | str | os.PathLike, seed: int, ids: Sequence[str]) -> np.ndarray:
    """Fold of each of `ids` in the split of `seed`; `folds` is folds.csv or its table."""
    source = str(folds) if not isinstance(folds, pd.DataFrame) else "the folds table"
    table = pd.read_csv(folds) if not isinstance(folds, pd.DataFrame) else folds
    split = table[table["seed"] == seed].set_index("id")
    if split.empty:
        raise ValueError(f"{source} has no split for seed {seed}")
    missing = [i for i in ids if i not in split.index]
    if missing:
        raise ValueError(f"{source}: {len(missing)} configurations have no fold for seed {seed} (e.g. {missing[:3]})")
    return split.loc[list(ids), "fold"].to_numpy()
