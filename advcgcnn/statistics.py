"""Intervals, power and equivalence for the verdicts: what an effect is, how sure, and what the data could see.

Every claim is reported with its effect on a named scale, an interval, a p-value and,
where nothing significant was found, the smallest effect the data could have detected
at 80 % power (`POWER`), so that "no evidence" is never read as "no effect".
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta, binom, false_discovery_control, norm, rankdata, t

POWER = 0.8  # power at which the detectable effect is stated
SPEARMAN_SE_FACTOR = 1.06  # Fieller et al. (1957): var(atanh rho_s) ~ 1.06 / (n - 3)


def clopper_pearson(k: int, n: int, *, level: float) -> tuple[float, float]:
    """Exact two-sided interval of a binomial proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def detectable_proportion(*, n: int, p0: float, alpha: float, power: float = POWER) -> float:
    """Smallest p1 > p0 that a one-sided exact binomial test at `alpha` detects with `power` from n trials."""
    if n == 0:
        return float("nan")
    # Critical count: the smallest k with P(X >= k | p0) <= alpha.
    k = int(binom.isf(alpha, n, p0)) + 1
    while k > 0 and binom.sf(k - 2, n, p0) <= alpha:
        k -= 1
    grid = np.linspace(p0, 1.0, 2001)
    reached = binom.sf(k - 1, n, grid) >= power
    return float(grid[np.argmax(reached)]) if reached.any() else float("nan")


def spearman_interval(rho: float, n: int, *, level: float) -> tuple[float, float]:
    """Fisher-z interval of Spearman's rho with the Fieller variance."""
    if n <= 3 or not np.isfinite(rho):
        return float("nan"), float("nan")
    z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    half = norm.ppf(0.5 + level / 2) * np.sqrt(SPEARMAN_SE_FACTOR / (n - 3))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def detectable_correlation(*, n: int, alpha: float, power: float = POWER) -> float:
    """Smallest |rho| a two-sided test at `alpha` detects with `power` from n pairs (Fisher z)."""
    if n <= 3:
        return float("nan")
    z = (norm.ppf(1 - alpha / 2) + norm.ppf(power)) * np.sqrt(SPEARMAN_SE_FACTOR / (n - 3))
    return float(np.tanh(z))


def detectable_shift(*, se: float, alpha: float, power: float = POWER, sided: int = 2) -> float:
    """Smallest true effect a z (or large-sample t) test with standard error `se` detects with `power`."""
    z_alpha = norm.ppf(1 - alpha / sided)
    return float((z_alpha + norm.ppf(power)) * se)


def equivalent(*, interval: tuple[float, float], margin: float) -> bool:
    """Two one-sided tests at level alpha: the (1 - 2 alpha) interval lies inside (-margin, margin)."""
    lo, hi = interval
    return bool(np.isfinite(lo) and np.isfinite(hi) and -margin < lo and hi < margin)


def partial_spearman(a: np.ndarray, b: np.ndarray, *, controls: np.ndarray | list[np.ndarray]) -> float:
    """Rank correlation of a and b with the linear (in ranks) effect of each control removed."""
    controls = [controls] if isinstance(controls, np.ndarray) and controls.ndim == 1 else list(controls)
    ra, rb = rankdata(a), rankdata(b)
    design = np.column_stack([np.ones_like(ra), *(rankdata(c) for c in controls)])
    res_a = ra - design @ np.linalg.lstsq(design, ra, rcond=None)[0]
    res_b = rb - design @ np.linalg.lstsq(design, rb, rcond=None)[0]
    denom = np.sqrt((res_a**2).sum() * (res_b**2).sum())
    return float((res_a * res_b).sum() / denom) if denom > 0 else float("nan")


def partial_p_value(r: float, *, n: int, n_controls: int) -> float:
    """Two-sided p of a partial correlation (t with n - 2 - n_controls degrees of freedom)."""
    df = n - 2 - n_controls
    if not np.isfinite(r) or df <= 0:
        return float("nan")
    return float(2 * t.sf(abs(r) * np.sqrt(df / max(1e-12, 1 - r**2)), df))


def bootstrap_partial_spearman(
    a: np.ndarray, b: np.ndarray, *, controls: list[np.ndarray], n_boot: int, seed: int, level: float
) -> tuple[float, float]:
    """Percentile bootstrap interval of the partial rank correlation (rows resampled with replacement)."""
    rng = np.random.default_rng(seed)
    n = a.size
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        values.append(partial_spearman(a[idx], b[idx], controls=[c[idx] for c in controls]))
    values = np.array(values)
    if not np.isfinite(values).any():
        return float("nan"), float("nan")
    lo, hi = np.nanpercentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def bh_adjusted(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's `false_discovery_control`); NaN stays NaN, untested."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok])
    return out
