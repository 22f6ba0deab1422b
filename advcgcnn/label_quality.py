"""Is a label a property of the arrangement? Stability, protocol comparison and the PBE cross-check.

- Within-arrangement spread: each arrangement of the stability sample labelled
  twice (base and perturbed protocol); the SD of one label is
  sqrt(mean(d^2) / 2) over the paired differences d.
- Between-arrangement spread: SD of the base labels of different arrangements
  of one composition, pooled over the sampled compositions (end members left out).
- A protocol's labels belong to the arrangement when the within spread is well
  below the between spread: ratio <= `NOISE_RATIO` (the arrangement then
  explains at least 1 - ratio^2 = 75 % of the label variance at fixed composition).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import linregress, spearmanr

from .statistics import spearman_interval

NOISE_RATIO = 0.5
LEVEL = 0.95


def within_sd(differences: np.ndarray) -> float:
    d = np.asarray(differences, dtype=float)
    return float(np.sqrt(np.mean(d**2) / 2.0)) if d.size else float("nan")


def pooled_between_sd(frame: pd.DataFrame, *, value: str, group: str = "n_I") -> float:
    """Pooled within-group SD of `value` (groups of at least two)."""
    sums, dof = 0.0, 0
    for _, g in frame.groupby(group):
        if len(g) > 1:
            sums += float(((g[value] - g[value].mean()) ** 2).sum())
            dof += len(g) - 1
    return float(np.sqrt(sums / dof)) if dof else float("nan")


def _ratio_interval(mixed: pd.DataFrame, *, n_boot: int, seed: int) -> tuple[float, float]:
    """Bootstrap interval of within/between, resampling arrangements inside each composition."""
    rng = np.random.default_rng(seed)
    groups = [g for _, g in mixed.groupby("n_I")]
    ratios = []
    for _ in range(n_boot):
        sample = pd.concat([g.iloc[rng.integers(0, len(g), len(g))] for g in groups])
        between = pooled_between_sd(sample, value="gap_base")
        if between > 0:
            ratios.append(within_sd(sample["gap_perturbed"] - sample["gap_base"]) / between)
    if not ratios:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(ratios, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def protocol_comparison(stability: pd.DataFrame, *, n_sites: int, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per protocol: within and between spreads, their ratio with an interval, cost, gap per composition."""
    rows = []
    for name, frame in stability.groupby("protocol", sort=False):
        mixed = frame[(frame["n_I"] > 0) & (frame["n_I"] < n_sites)]
        within = within_sd(frame["gap_perturbed"] - frame["gap_base"])
        between = pooled_between_sd(mixed, value="gap_base")
        ratio = within / between if between > 0 else float("nan")
        lo, hi = _ratio_interval(mixed, n_boot=n_boot, seed=seed)
        row = {
            "protocol": name,
            "n_arrangements": int(len(frame)),
            "within_sd_eV": within,
            "between_sd_eV": between,
            "within_over_between": ratio,
            "ratio_ci_low": lo,
            "ratio_ci_high": hi,
            "max_abs_change_eV": float((frame["gap_perturbed"] - frame["gap_base"]).abs().max()),
            "property_of_arrangement": bool(hi <= NOISE_RATIO),
            "seconds_per_label": float(frame["seconds_per_label"].mean()),
        }
        for n, g in frame.groupby("n_I"):
            row[f"mean_raw_gap_nI{int(n):02d}"] = float(g["gap_base"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def label_verdict(row: Mapping) -> str:
    """Plain words for one protocol's row of `protocol_comparison`."""
    ratio, lo, hi = row["within_over_between"], row["ratio_ci_low"], row["ratio_ci_high"]
    spread = (
        f"within-arrangement spread {row['within_sd_eV']:.3f} eV against {row['between_sd_eV']:.3f} eV between "
        f"arrangements of one composition (ratio {ratio:.2f}, {LEVEL:.0%} interval {lo:.2f}-{hi:.2f})"
    )
    if hi <= NOISE_RATIO:
        return f"a property of the arrangement: {spread}"
    if lo > NOISE_RATIO:
        return f"noise-dominated: {spread}; the perturbation moves labels about as much as the arrangement does"
    return f"not shown to be a property of the arrangement: {spread}"


def pbe_comparison(gfn1: pd.DataFrame, pbe: pd.DataFrame, *, n_sites: int) -> dict:
    """GFN1 against PBE on the same relaxed cells: ordering within a composition, slope, and gap against x."""
    joined = gfn1.merge(pbe, on="id", how="inner")
    per_composition = []
    for n, g in joined.groupby("n_I"):
        row = {
            "n_I": int(n),
            "n_cells": int(len(g)),
            "gfn1_mean_eV": float(g["gap_gfn1_raw"].mean()),
            "pbe_mean_eV": float(g["pbe_gap"].mean()),
            "gfn1_sd_eV": float(g["gap_gfn1_raw"].std(ddof=1)) if len(g) > 1 else float("nan"),
            "pbe_sd_eV": float(g["pbe_gap"].std(ddof=1)) if len(g) > 1 else float("nan"),
        }
        if 0 < n < n_sites and len(g) >= 4:
            rho = float(spearmanr(g["gap_gfn1_raw"], g["pbe_gap"]).statistic)
            lo, hi = spearman_interval(rho, len(g), level=LEVEL)
            fit = linregress(g["gap_gfn1_raw"], g["pbe_gap"])
            row.update(spearman_rho=rho, rho_ci_low=lo, rho_ci_high=hi, slope_pbe_per_gfn1=float(fit.slope))
        per_composition.append(row)
    overall = linregress(joined["gap_gfn1_raw"], joined["pbe_gap"])
    rho_all = float(spearmanr(joined["gap_gfn1_raw"], joined["pbe_gap"]).statistic)
    return {
        "n_cells": int(len(joined)),
        "per_composition": per_composition,
        "all_cells": {
            "spearman_rho": rho_all,
            "slope_pbe_per_gfn1": float(overall.slope),
            "intercept_eV": float(overall.intercept),
            "r_squared": float(overall.rvalue**2),
        },
        "seconds_per_cell": float(pbe["seconds"].mean()),
        "mpi_ranks": int(pbe["ranks"].iloc[0]) if len(pbe) else 0,
        "cells": joined[["id", "n_I", "gap_gfn1_raw", "pbe_gap", "pbe_energy", "seconds"]].round(5).to_dict(orient="records"),
    }


def gap_against_x(records: pd.DataFrame, *, experiment: Mapping[str, float], n_sites: int) -> dict:
    """Mean labelled gap per composition beside the experimental end points, with plain-word disagreements."""
    per_x = records.groupby("n_I")["band_gap"].agg(["mean", "std", "min", "max", "count"]).reset_index()
    host, substituent = experiment["host"], experiment["substituent"]
    mixed = per_x[(per_x["n_I"] > 0) & (per_x["n_I"] < n_sites)]
    above = mixed[mixed["mean"] > max(host, substituent)]
    below = mixed[mixed["mean"] < min(host, substituent)]
    rho = float(spearmanr(records["n_I"], records["band_gap"]).statistic)
    notes = []
    if len(above):
        notes.append(
            f"at {len(above)} of {len(mixed)} mixed compositions (n_I {above['n_I'].min()}-{above['n_I'].max()}) the mean "
            f"labelled gap lies above both experimental end points ({host} and {substituent} eV); experiment shows a "
            "gap that falls with x"
        )
    if len(below):
        notes.append(f"at {len(below)} mixed compositions the mean labelled gap lies below both end points")
    if rho >= 0:
        notes.append(f"the labelled gap does not fall with x (Spearman rho {rho:+.2f}), unlike experiment")
    return {
        "per_n_I": per_x.round(4).to_dict(orient="records"),
        "spearman_rho_gap_vs_x": rho,
        "experimental_end_points_eV": {"host": host, "substituent": substituent},
        "disagreements_with_experiment": notes or ["none: the labelled gaps fall with x between the experimental end points"],
    }
