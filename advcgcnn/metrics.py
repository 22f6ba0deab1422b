"""Classification and regression metrics, and their summary over (seed, fold) runs."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "f1")
REGRESSION_METRICS = ("mae", "rmse", "r2")
METRIC_NAMES = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)


def classification_metrics(*, y_true: np.ndarray, prob: np.ndarray) -> dict:
    """Metrics of P(high) against 0/1 labels; the class is P >= 0.5."""
    pred = (prob >= 0.5).astype(int)
    both = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)),
        "roc_auc": float(roc_auc_score(y_true, prob)) if both else float("nan"),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
    }


def regression_metrics(*, y_true: np.ndarray, pred: np.ndarray) -> dict:
    err = pred - y_true
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "r2": 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
    }


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
