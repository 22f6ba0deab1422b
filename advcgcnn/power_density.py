"""Does more structural disorder go with more power density?

For each descriptor: Spearman's rho between the maximum power density (from
ingestion, W/m^2) and the descriptor, a seeded bootstrap 95 % confidence
interval, and the partial rank correlation at fixed composition (Pearson
correlation of the rank residuals after regressing both ranks on the rank of
x), because disorder and power density both change with x. The relation is
stated in terms of disorder (`verdicts.disorder_relation`; `DISORDER_DIRECTION`
flips descriptors where a smaller value means more disorder).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from .descriptors import DESCRIPTOR_UNITS, DISORDER_DIRECTION
from .io import save_figure
from .statistics import bh_adjusted, bootstrap_partial_spearman, partial_p_value, partial_spearman
from .verdicts import interval_level


def bootstrap_ci(a: np.ndarray, b: np.ndarray, *, n_boot: int, rng: np.random.Generator, level: float) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho (pairs resampled with replacement)."""
    n = a.size
    idx = rng.integers(0, n, size=(n_boot, n))
    ra = rankdata(a[idx], axis=1)
    rb = rankdata(b[idx], axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    rho = np.where(denom > 0, (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)
    lo, hi = np.nanpercentile(rho, [50 * (1 - level), 50 * (1 + level)]) if np.isfinite(rho).any() else (np.nan, np.nan)
    return float(lo), float(hi)


def power_density_vs_disorder(
    *, labels: pd.DataFrame, descriptors: pd.DataFrame, names: list[str], n_boot: int, seed: int, alpha: float
) -> pd.DataFrame:
    """Each descriptor against power density: pooled rho with its bootstrap interval (for the figure), and
    the partial rank correlation at fixed composition, signed so that positive = more disorder, more power,
    with a bootstrap interval, a BH-adjusted p-value, the 1 - 2 alpha interval for the equivalence test,
    and the same partial correlation with the band gap (read against the Shockley-Queisser optimum)."""
    level = interval_level(alpha=alpha)
    data = labels[["id", "x", "power_density", "band_gap"]].merge(descriptors, on="id")
    rng = np.random.default_rng(seed)
    power = data["power_density"].to_numpy(float)
    gap = data["band_gap"].to_numpy(float)
    rows = []
    for k, name in enumerate(names):
        value = data[name].to_numpy(float)
        ok = np.isfinite(value) & np.isfinite(power)
        a, b, x, g = value[ok], power[ok], data["x"].to_numpy(float)[ok], gap[ok]
        varies = a.size > 5 and np.ptp(a) > 0 and np.ptp(b) > 0
        rho, p = (float(v) for v in spearmanr(a, b)) if varies else (np.nan, np.nan)
        lo, hi = bootstrap_ci(a, b, n_boot=n_boot, rng=rng, level=level) if varies else (np.nan, np.nan)
        direction = DISORDER_DIRECTION.get(name, 0)
        row = {
            "descriptor": name,
            "n": int(ok.sum()),
            "disorder_direction": direction,
            "spearman_rho": rho,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p,
            "median_gap": float(np.median(g)) if g.size else np.nan,
        }
        if direction != 0 and varies and np.ptp(x) > 0:
            signed = direction * a
            partial = partial_spearman(signed, b, controls=[x])
            boot_seed = seed * 1000 + k
            row.update(
                signed_partial_rho=partial,
                partial_p_value=partial_p_value(partial, n=a.size, n_controls=1),
                signed_rho_gap_fixed_x=partial_spearman(signed, g, controls=[x]),
            )
            row["signed_ci_low"], row["signed_ci_high"] = bootstrap_partial_spearman(
                signed, b, controls=[x], n_boot=n_boot, seed=boot_seed, level=level
            )
            row["tost_low"], row["tost_high"] = bootstrap_partial_spearman(
                signed, b, controls=[x], n_boot=n_boot, seed=boot_seed, level=1 - 2 * alpha
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("signed_partial_rho", "partial_p_value", "signed_rho_gap_fixed_x", "signed_ci_low", "signed_ci_high",
                   "tost_low", "tost_high"):  # fmt: skip
        if column not in table:
            table[column] = np.nan
    table["p_adjusted_bh"] = bh_adjusted(table["partial_p_value"].to_numpy())
    return table


def plot_power_density(*, labels: pd.DataFrame, descriptors: pd.DataFrame, table: pd.DataFrame, figure_out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = labels[["id", "x", "power_density"]].merge(descriptors, on="id")
    names = list(table["descriptor"])
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.0 * rows), constrained_layout=True, squeeze=False)
    for ax, (_, row) in zip(axes.ravel(), table.iterrows()):
        name = row["descriptor"]
        points = ax.scatter(data[name], data["power_density"], c=data["x"], cmap="viridis", s=6)
        ax.set_xlabel(f"{name} ({DESCRIPTOR_UNITS.get(name, '')})", fontsize=8)
        ax.set_ylabel("max. power density (W/m²)", fontsize=8)
        ax.set_title(f"ρ = {row['spearman_rho']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]", fontsize=8)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.colorbar(points, ax=axes.ravel().tolist(), label="x (substituent per formula unit)", shrink=0.6)
    save_figure(fig, figure_out)
