"""Gradient-boosted classifiers on tabular features, cross-validated on the CGCNN folds.

Two feature sets go through the same learner (LightGBM) and the same folds:
- interpretable: the disorder descriptors plus composition (x);
- general: element-property statistics of the composition and plain cell
  geometry (density, volume per atom, lattice parameters), not disorder-aware,
  the study's "gradient boosting on general features" baseline.

Per-feature contributions come from LightGBM's own TreeSHAP
(`predict(..., pred_contrib=True)`): for each held-out configuration the
contributions plus the bias column add up to the model's raw score (log-odds).
"""

from __future__ import annotations

import functools
import json
import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
from pymatgen.core import Element

from .descriptors import DESCRIPTOR_UNITS
from .folds import fold_assignment
from .graphs import to_pymatgen
from .io import atomic_open, read_json, save_figure, write_csv, write_json
from .metrics import classification_metrics, summarise_runs

log = logging.getLogger(__name__)

# Element properties (pymatgen attribute names) summarised over a composition.
ELEMENT_PROPERTIES = (
    "X",
    "atomic_mass",
    "atomic_radius",
    "row",
    "group",
    "ionization_energy",
    "electron_affinity",
    "molar_volume",
)
LATTICE_FEATURES = ("density", "volume_per_atom", "a", "b", "c", "alpha", "beta", "gamma")
BIAS = "bias"


# --- features ---------------------------------------------------------------


@functools.cache
def _element_values(symbol: str) -> np.ndarray:
    el = Element(symbol)
    return np.array([float(getattr(el, name)) for name in ELEMENT_PROPERTIES])


def general_features(structure) -> dict:
    """Composition statistics (mean, avg. deviation, min, max, range) and cell geometry."""
    comp = structure.composition.fractional_composition
    symbols = [el.symbol for el in comp.elements]
    values = np.array([_element_values(s) for s in symbols])  # [n_elements, n_properties]
    weights = np.array([comp[s] for s in symbols])[:, None]
    mean = (weights * values).sum(axis=0)
    out = {}
    for j, prop in enumerate(ELEMENT_PROPERTIES):
        out[f"{prop}_mean"] = mean[j]
        out[f"{prop}_avg_dev"] = float((weights[:, 0] * np.abs(values[:, j] - mean[j])).sum())
        out[f"{prop}_min"] = values[:, j].min()
        out[f"{prop}_max"] = values[:, j].max()
        out[f"{prop}_range"] = np.ptp(values[:, j])
    lat = structure.lattice
    out.update(
        density=float(structure.density),
        volume_per_atom=structure.volume / len(structure),
        a=lat.a,
        b=lat.b,
        c=lat.c,
        alpha=lat.alpha,
        beta=lat.beta,
        gamma=lat.gamma,
    )
    return {k: float(v) for k, v in out.items()}


def general_feature_names() -> list[str]:
    stats = ("mean", "avg_dev", "min", "max", "range")
    return [f"{p}_{s}" for p in ELEMENT_PROPERTIES for s in stats] + list(LATTICE_FEATURES)


def general_features_all(structures: dict) -> pd.DataFrame:
    """General features of every crystal of a flat structure set (see graphs.read_structures)."""
    rows = [{"id": cid, **general_features(to_pymatgen(structures, i))} for i, cid in enumerate(structures["ids"])]
    return pd.DataFrame(rows, columns=["id", *general_feature_names()])


def feature_table(*, tables: list[pd.DataFrame], names: list[str], ids: list[str], source: str) -> pd.DataFrame:
    """Columns `names` from the id-keyed `tables`, one row per id in `ids` order.

    Raises a clear error for a feature no table has, or for ids a table lacks.
    """
    merged = pd.DataFrame({"id": ids})
    remaining = list(names)
    for table in tables:  # each feature comes from the first table that has it
        cols = [n for n in remaining if n in table.columns]
        if cols:
            merged = merged.merge(table[["id", *cols]], on="id", how="left", validate="one_to_one")
            remaining = [n for n in remaining if n not in cols]
    if remaining:
        available = sorted({c for t in tables for c in t.columns if c != "id"})
        raise ValueError(f"{source}: unknown feature(s) {remaining}; available: {available}")
    lost = merged[names].isna().all(axis=1)
    if lost.any():
        raise ValueError(f"{source}: {int(lost.sum())} configurations have no features (e.g. {merged.loc[lost, 'id'].iloc[0]})")
    return merged.set_index("id")[names]


# --- cross-validation -----------------------------------------------------------


def lightgbm_params(*, settings: dict, seed: int, threads: int) -> dict:
    """LightGBM parameters from the config, made deterministic for one seed."""
    return {
        "objective": "binary",
        "n_estimators": settings["n_estimators"],
        "learning_rate": settings["learning_rate"],
        "num_leaves": settings["num_leaves"],
        "min_child_samples": settings["min_child_samples"],
        "subsample": settings["subsample"],
        "subsample_freq": 1 if settings["subsample"] < 1 else 0,
        "colsample_bytree": settings["colsample_bytree"],
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,
        "n_jobs": threads,
        "verbose": -1,
    }


def cross_validate(
    *,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    folds: pd.DataFrame,
    seeds: list[int],
    settings: dict,
    threads: int = 1,
) -> dict:
    """Fit one classifier per (seed, fold) of `folds.csv`; predict and explain its held-out fold.

    Returns predictions (id, seed, fold, target, prob_high, pred, raw_score),
    contributions (id, seed, fold, one column per feature, bias), runs
    (metrics per (seed, fold)) and boosters (model strings).
    """
    y = labels.set_index("id").loc[features.index, "label"].to_numpy(int)
    names = list(features.columns)
    X = features.to_numpy(float)
    predictions, contributions, runs, boosters = [], [], [], []
    for seed in seeds:
        fold_of = fold_assignment(folds=folds, seed=seed, ids=list(features.index))
        for fold in sorted(np.unique(fold_of)):
            test = fold_of == fold
            model = lgb.LGBMClassifier(**lightgbm_params(settings=settings, seed=seed, threads=threads))
            model.fit(pd.DataFrame(X[~test], columns=names), y[~test])
            X_test = pd.DataFrame(X[test], columns=names)
            prob = model.predict_proba(X_test)[:, 1]
            raw = model.predict(X_test, raw_score=True)
            contrib = model.predict(X_test, pred_contrib=True)
            ids = features.index[test]
            predictions.append(
                pd.DataFrame(
                    {
                        "id": ids,
                        "seed": seed,
                        "fold": fold,
                        "target": y[test],
                        "prob_high": prob,
                        "pred": (prob >= 0.5).astype(int),
                        "raw_score": raw,
                    }
                )
            )
            part = pd.DataFrame(contrib, columns=[*names, BIAS])
            part.insert(0, "fold", fold)
            part.insert(0, "seed", seed)
            part.insert(0, "id", ids)
            contributions.append(part)
            runs.append({"seed": seed, "fold": int(fold), **classification_metrics(y_true=y[test], prob=prob)})
            boosters.append({"seed": seed, "fold": int(fold), "features": names, "model": model.booster_.model_to_string()})
    return {
        "predictions": pd.concat(predictions, ignore_index=True),
        "contributions": pd.concat(contributions, ignore_index=True),
        "runs": runs,
        "boosters": boosters,
    }


def global_importance(contributions: pd.DataFrame, *, names: list[str]) -> pd.DataFrame:
    """Mean |contribution| per feature over every held-out prediction, ranked (1 = most important)."""
    mean_abs = contributions[names].abs().mean()
    table = pd.DataFrame({"feature": names, "mean_abs_contribution": mean_abs.to_numpy()})
    table["mean_contribution"] = contributions[names].mean().to_numpy()
    table = table.sort_values(["mean_abs_contribution", "feature"], ascending=[False, True]).reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def run_ranks(contributions: pd.DataFrame, *, names: list[str]) -> pd.DataFrame:
    """Rank of every feature by mean |contribution| within each (seed, fold) run: the spread claim (e) reads."""
    rows = []
    for (seed, fold), part in contributions.groupby(["seed", "fold"]):
        ranked = global_importance(part, names=names)
        rows.append(ranked[["feature", "rank"]].assign(seed=seed, fold=fold))
    return pd.concat(rows, ignore_index=True)[["seed", "fold", "feature", "rank"]]


def boosters_from_entries(entries: list[dict]) -> list:
    """(entry, lightgbm.Booster) pairs from the entries of a models.json."""
    return [(e, lgb.Booster(model_str=e["model"])) for e in entries]


def load_boosters(path) -> list:
    return boosters_from_entries(read_json(path))


def ensemble_predict(boosters: list, *, features: pd.DataFrame) -> np.ndarray:
    """P(high) of every model for every row: [n_models, n_rows]."""
    out = []
    for entry, booster in boosters:
        out.append(booster.predict(features[entry["features"]].to_numpy(float)))
    return np.array(out)


def partial_dependence(boosters: list, *, features: pd.DataFrame, names: list[str], n_grid: int = 20) -> pd.DataFrame:
    """Mean predicted P(high) with one feature set to each grid value (5th-95th percentile).

    Averaged over all configurations for each model; spread over the models.
    """
    rows = []
    for name in names:
        lo, hi = np.nanpercentile(features[name], [5, 95])
        grid = np.unique(np.linspace(lo, hi, n_grid)) if hi > lo else np.array([lo])
        for value in grid:
            probe = features.copy()
            probe[name] = value
            per_model = ensemble_predict(boosters, features=probe).mean(axis=1)
            rows.append({"feature": name, "value": value, "prob_high_mean": per_model.mean(), "prob_high_std": per_model.std()})
    return pd.DataFrame(rows)


def plot_shap_summary(
    *, contributions: pd.DataFrame, features: pd.DataFrame, importance: pd.DataFrame, figure_out: str, top: int = 10
) -> None:
    """Bar chart of mean |contribution| and a beeswarm-style scatter coloured by feature value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importance["feature"][:top])
    fig, (bar, swarm) = plt.subplots(1, 2, figsize=(11, 0.45 * len(names) + 1.6), constrained_layout=True)
    ypos = np.arange(len(names))[::-1]
    bar.barh(ypos, importance["mean_abs_contribution"][: len(names)], color="tab:blue")
    bar.set_yticks(ypos, names, fontsize=8)
    bar.set_xlabel("mean |TreeSHAP contribution| (log-odds of high efficiency)")
    rng = np.random.default_rng(0)  # jitter only
    values = features.loc[contributions["id"]]
    for y0, name in zip(ypos, names):
        v = values[name].to_numpy(float)
        span = np.ptp(v[np.isfinite(v)]) if np.isfinite(v).any() else 0
        colour = (v - np.nanmin(v)) / span if span > 0 else np.full_like(v, 0.5)
        swarm.scatter(contributions[name], y0 + rng.uniform(-0.3, 0.3, len(v)), c=colour, cmap="coolwarm", s=5, vmin=0, vmax=1)
    swarm.axvline(0, color="grey", lw=0.8)
    swarm.set_yticks(ypos, names, fontsize=8)
    swarm.set_xlabel("TreeSHAP contribution (log-odds), one dot per held-out prediction")
    sm = plt.cm.ScalarMappable(cmap="coolwarm")
    fig.colorbar(sm, ax=swarm, label="feature value (low → high, scaled per feature)")
    save_figure(fig, figure_out)


def plot_partial_dependence(pd_table: pd.DataFrame, *, figure_out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(pd_table["feature"]))
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), constrained_layout=True, squeeze=False)
    for ax, name in zip(axes[0], names):
        part = pd_table[pd_table["feature"] == name]
        ax.plot(part["value"], part["prob_high_mean"], marker=".")
        ax.fill_between(
            part["value"],
            part["prob_high_mean"] - part["prob_high_std"],
            part["prob_high_mean"] + part["prob_high_std"],
            alpha=0.3,
        )
        unit = DESCRIPTOR_UNITS.get(name, "substituent per formula unit" if name == "x" else "")
        ax.set_xlabel(f"{name} ({unit})" if unit else name, fontsize=8)
        ax.set_ylabel("mean predicted P(high efficiency)", fontsize=8)
        ax.set_ylim(0, 1)
    save_figure(fig, figure_out)


def run_cross_validation(
    *,
    features: pd.DataFrame,
    labels_csv: str,
    folds_csv: str,
    seeds: list[int],
    settings: dict,
    threads: int,
    outputs: dict,
    top_features: int = 4,
) -> dict:
    """Cross-validate, explain and write every output of one feature set.

    `outputs` maps predictions, contributions, summary, importance, models,
    partial_dependence, shap_figure and pd_figure to paths.
    """
    labels = pd.read_csv(labels_csv)
    folds = pd.read_csv(folds_csv)
    result = cross_validate(features=features, labels=labels, folds=folds, seeds=seeds, settings=settings, threads=threads)
    names = list(features.columns)
    check_contributions(contributions=result["contributions"], predictions=result["predictions"], names=names)
    importance = global_importance(result["contributions"], names=names)
    summary = summarise_runs(result["runs"])
    summary["features"] = names
    write_csv(outputs["predictions"], result["predictions"])
    write_csv(outputs["contributions"], result["contributions"])
    write_csv(outputs["importance"], importance)
    write_csv(outputs["run_ranks"], run_ranks(result["contributions"], names=names))
    write_json(outputs["summary"], summary)
    with atomic_open(outputs["models"]) as fh:
        json.dump(result["boosters"], fh)
    boosters = boosters_from_entries(result["boosters"])
    top = [f for f in importance["feature"] if features[f].nunique() > 1][:top_features]
    pdp = partial_dependence(boosters, features=features, names=top)
    write_csv(outputs["partial_dependence"], pdp)
    plot_shap_summary(
        contributions=result["contributions"], features=features, importance=importance, figure_out=outputs["shap_figure"]
    )
    plot_partial_dependence(pdp, figure_out=outputs["pd_figure"])
    log.info(
        "accuracy %.3f +- %.3f, ROC-AUC %.3f +- %.3f over %d runs",
        summary["accuracy"]["mean"],
        summary["accuracy"]["std"],
        summary["roc_auc"]["mean"],
        summary["roc_auc"]["std"],
        summary["n_runs"],
    )
    log.info("importance:\n%s", importance.to_string(index=False))
    return summary


def check_contributions(*, contributions: pd.DataFrame, predictions: pd.DataFrame, names: list[str], tol: float = 1e-6) -> None:
    """TreeSHAP contributions plus bias must add up to the raw score (LightGBM's guarantee)."""
    total = contributions[[*names, BIAS]].to_numpy(float).sum(axis=1)
    gap = np.abs(total - predictions["raw_score"].to_numpy(float))
    if gap.size and gap.max() > tol:
        raise RuntimeError(f"TreeSHAP contributions differ from the raw score by up to {gap.max():.3g}")
