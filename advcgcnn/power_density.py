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
from .verdicts import disorder_relation, interval_level


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


def partial_spearman(a: np.ndarray, b: np.ndarray, *, control: np.ndarray) -> float:
    """Rank correlation of a and b with the (linear, in ranks) effect of `control` removed."""
    ra, rb, rc = rankdata(a), rankdata(b), rankdata(control)
    design = np.column_stack([np.ones_like(rc), rc])
    res_a = ra - design @ np.linalg.lstsq(design, ra, rcond=None)[0]
    res_b = rb - design @ np.linalg.lstsq(design, rb, rcond=None)[0]
    denom = np.sqrt((res_a**2).sum() * (res_b**2).sum())
    return float((res_a * res_b).sum() / denom) if denom > 0 else float("nan")


def power_density_vs_disorder(
    *, labels: pd.DataFrame, descriptors: pd.DataFrame, names: list[str], n_boot: int, seed: int, alpha: float
) -> pd.DataFrame:
    """Rank correlation of power density with each descriptor; intervals at level 1 - `alpha`."""
    level = interval_level(alpha=alpha)
    data = labels[["id", "x", "power_density"]].merge(descriptors, on="id")
    rng = np.random.default_rng(seed)
    power = data["power_density"].to_numpy(float)
    rows = []
    for name in names:
        value = data[name].to_numpy(float)
        ok = np.isfinite(value) & np.isfinite(power)
        a, b, x = value[ok], power[ok], data["x"].to_numpy(float)[ok]
        varies = a.size > 1 and np.ptp(a) > 0 and np.ptp(b) > 0
        rho, p = (float(v) for v in spearmanr(a, b)) if varies else (np.nan, np.nan)
        lo, hi = bootstrap_ci(a, b, n_boot=n_boot, rng=rng, level=level) if varies else (np.nan, np.nan)
        direction = DISORDER_DIRECTION.get(name, 0)
        rows.append(
            {
                "descriptor": name,
                "n": int(ok.sum()),
                "disorder_direction": direction,
                "spearman_rho": rho,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                "partial_rho_fixed_x": partial_spearman(a, b, control=x) if varies and np.ptp(x) > 0 else np.nan,
                "verdict": disorder_relation(direction=direction, ci_low=lo, ci_high=hi, level=level),
            }
        )
    return pd.DataFrame(rows)


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
