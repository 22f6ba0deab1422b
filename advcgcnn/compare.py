"""One table comparing every classifier on identical folds, with paired tests.

Each model's held-out predictions carry (id, seed, fold). Before anything is
compared, every model's fold of every configuration is checked against
`folds.csv`, and metrics are recomputed from the predictions the same way for
all models. Paired tests use the (seed, fold) runs two models share:
- Wilcoxon signed-rank on the per-run differences;
- the corrected resampled t-test of Nadeau & Bengio (2003), which widens the
  variance for the overlap of training sets between folds (plain paired
  t-tests on CV folds are over-confident).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from scipy.stats import wilcoxon

from .metrics import CLASSIFICATION_METRICS, classification_metrics


def check_same_folds(*, name: str, predictions: pd.DataFrame, folds: pd.DataFrame) -> None:
    """Every prediction sits in its folds.csv fold, and each seed covers every configuration once."""
    merged = predictions[["id", "seed", "fold"]].merge(folds, on=["id", "seed"], how="left", suffixes=("", "_expected"))
    unknown = merged["fold_expected"].isna()
    if unknown.any():
        row = merged[unknown].iloc[0]
        raise ValueError(
            f"{name}: {int(unknown.sum())} predictions have no fold in folds.csv (e.g. id {row['id']}, seed {row['seed']})"
        )
    moved = merged["fold"] != merged["fold_expected"]
    if moved.any():
        row = merged[moved].iloc[0]
        raise ValueError(
            f"{name}: {int(moved.sum())} predictions are in a different fold than folds.csv "
            f"(e.g. id {row['id']}, seed {row['seed']}: fold {row['fold']}, expected {int(row['fold_expected'])})"
        )
    for seed, part in predictions.groupby("seed"):
        expected = set(folds.loc[folds["seed"] == seed, "id"])
        if part["id"].duplicated().any() or set(part["id"]) != expected:
            raise ValueError(f"{name}: seed {seed} does not predict every configuration of folds.csv exactly once")


def runs_from_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per (seed, fold), recomputed from held-out predictions."""
    rows = []
    for (seed, fold), part in predictions.groupby(["seed", "fold"]):
        metrics = classification_metrics(y_true=part["target"].to_numpy(), prob=part["prob_high"].to_numpy())
        rows.append({"seed": seed, "fold": fold, **metrics})
    return pd.DataFrame(rows)


def corrected_standard_error(diff: np.ndarray, *, test_fraction: float) -> float:
    """Standard error of the mean paired difference, widened for overlapping training sets (Nadeau-Bengio)."""
    n = diff.size
    if n < 2:
        return float("nan")
    return float(np.sqrt((1.0 / n + test_fraction / (1.0 - test_fraction)) * diff.var(ddof=1)))


def corrected_paired_t(diff: np.ndarray, *, test_fraction: float) -> float:
    """Two-sided p of the Nadeau-Bengio corrected resampled t-test."""
    se = corrected_standard_error(diff, test_fraction=test_fraction)
    if not np.isfinite(se):
        return float("nan")
    if se == 0:
        return 1.0 if diff.mean() == 0 else 0.0
    return float(2 * student_t.sf(abs(diff.mean() / se), df=diff.size - 1))


def wilcoxon_p(diff: np.ndarray) -> float:
    if diff.size == 0 or np.all(diff == 0):
        return float("nan") if diff.size == 0 else 1.0
    return float(wilcoxon(diff, zero_method="zsplit").pvalue)


def compare_models(*, models: dict[str, tuple[str, pd.DataFrame]], folds: pd.DataFrame, reference: str) -> pd.DataFrame:
    """One row per model: metric mean and std over runs, and paired tests of `reference` against it.

    `models` maps a short name to (description, held-out predictions).
    """
    runs = {}
    for name, (_, predictions) in models.items():
        check_same_folds(name=name, predictions=predictions, folds=folds)
        runs[name] = runs_from_predictions(predictions).set_index(["seed", "fold"])
    n_folds = folds.groupby("seed")["fold"].nunique().max()
    rows = []
    for name, (description, _) in models.items():
        row = {"model": name, "description": description, "n_runs": len(runs[name])}
        for metric in CLASSIFICATION_METRICS:
            row[f"{metric}_mean"] = runs[name][metric].mean()
            row[f"{metric}_std"] = runs[name][metric].std(ddof=1) if len(runs[name]) > 1 else 0.0
        if name != reference:
            shared = runs[reference].index.intersection(runs[name].index)
            row["n_paired_runs"] = len(shared)
            for metric in ("accuracy", "roc_auc"):
                diff = (runs[reference].loc[shared, metric] - runs[name].loc[shared, metric]).to_numpy(float)
                row[f"{metric}_diff_{reference}_minus_model"] = diff.mean() if diff.size else np.nan
                row[f"{metric}_p_wilcoxon"] = wilcoxon_p(diff)
                row[f"{metric}_p_corrected_t"] = corrected_paired_t(diff, test_fraction=1.0 / n_folds)
                row[f"{metric}_se_corrected"] = corrected_standard_error(diff, test_fraction=1.0 / n_folds)
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_predictions(paths: list[str]) -> pd.DataFrame:
    """Sweep-point predictions of one (mode, sigma) over its seeds."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
