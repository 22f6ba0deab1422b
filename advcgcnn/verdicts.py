"""Every verdict of the pipeline, from numbers the stages wrote.

Stages write statistics (rho, p-values, effect sizes, intervals); this module
alone turns them into words, at the significance level `alpha` that the config
sets once (`verdicts.alpha`) and every caller passes in. Nothing here reads
prose another stage wrote.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .descriptors import DISORDER_DIRECTION
from .io import read_json

MIN_ADVERSARIAL = 10  # fewer adversarial examples than this: claim (c) is inconclusive
TOP_RANK = 3  # claim (e) holds when "number of unequal atoms" is among the top features
UNEQUAL_ATOMS = ("n_unequal_atoms", "n_unequal_atoms_arrangement")

Verdict = Literal["holds", "does not hold", "inconclusive"]
HOLDS: Verdict = "holds"
FAILS: Verdict = "does not hold"
UNSURE: Verdict = "inconclusive"

# How one disorder descriptor relates to power density, from its sign-adjusted interval.
MORE_POWER = "more disorder, more power density"
LESS_POWER = "more disorder, less power density"
NOT_DISORDER = "not a disorder measure"
NO_VARIATION = "no variation on this data"


def interval_level(*, alpha: float) -> float:
    """Confidence level of intervals read at significance level `alpha`."""
    return 1.0 - alpha


def accuracy_trend(*, rho: float, p_value: float, alpha: float) -> dict:
    """Does accuracy fall as sigma grows? (Spearman rho of fold accuracy against sigma.)"""
    falls = bool(rho < 0 and p_value < alpha)
    return {
        "falls_with_sigma": falls,
        "verdict": (
            "accuracy falls as sigma grows" if falls else "accuracy does NOT fall significantly as sigma grows on this data"
        ),
    }


def disorder_relation(*, direction: int, ci_low: float, ci_high: float, level: float) -> str:
    """Plain words for one descriptor against power density, from its `level` interval of rho."""
    if direction == 0:
        return NOT_DISORDER
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return NO_VARIATION
    lo, hi = sorted((direction * ci_low, direction * ci_high))
    if lo > 0:
        return MORE_POWER
    if hi < 0:
        return LESS_POWER
    return f"no clear relation ({100 * level:g} % interval includes 0)"


# --- the study's claims ---------------------------------------------------------


def claim_baseline_beats_chance(*, baseline_predictions: pd.DataFrame, alpha: float) -> dict:
    """(a) Out-of-fold accuracy of every seed against the majority-class rate (one-sided binomial)."""
    details, ps, margins = [], [], []
    for seed, part in baseline_predictions.groupby("seed"):
        correct = int((part["pred"] == part["target"]).sum())
        n = len(part)
        chance = float(part["target"].value_counts(normalize=True).max())
        p = binomtest(correct, n, chance, alternative="greater").pvalue
        ps.append(p)
        margins.append(correct / n - chance)
        details.append(f"seed {seed}: {correct}/{n} = {correct / n:.3f} vs {chance:.3f}, p = {p:.2g}")
    verdict = HOLDS if max(ps) < alpha else (FAILS if min(margins) <= 0 else UNSURE)
    return {
        "statistic": f"out-of-fold accuracy against the majority-class rate, one-sided binomial test: {'; '.join(details)}",
        "verdict": verdict,
    }


def claim_accuracy_falls(*, trend: dict, alpha: float) -> dict:
    """(b) Spearman trend of fold accuracy with sigma for the classifier retrained on perturbed inputs."""
    mode = "train" if "train" in trend else next(iter(trend))
    t = trend[mode]
    rho, p = t["spearman_rho_accuracy_vs_sigma"], t["p_value"]
    others = "; ".join(
        f"{m}: rho = {v['spearman_rho_accuracy_vs_sigma']:.2f}, p = {v['p_value']:.2g}" for m, v in trend.items() if m != mode
    )
    if not np.isfinite(rho):
        verdict = UNSURE
    else:
        verdict = HOLDS if accuracy_trend(rho=rho, p_value=p, alpha=alpha)["falls_with_sigma"] else FAILS
    return {
        "statistic": (
            f"{mode} mode: accuracy {t['accuracy_at_smallest_sigma']:.3f} at the smallest sigma, "
            f"{t['accuracy_at_largest_sigma']:.3f} at the largest; Spearman rho = {rho:.2f}, p = {p:.2g}"
            + (f" (other modes: {others})" if others else "")
        ),
        "verdict": verdict,
    }


def claim_adversarial_more_distorted(*, comparison: pd.DataFrame, alpha: float) -> dict:
    """(c) Direction-aware Mann-Whitney tests (BH-adjusted) of adversarial vs normal examples."""
    table = comparison[comparison["descriptor"].map(DISORDER_DIRECTION).fillna(0) != 0].copy()
    table["signed_delta"] = table["cliffs_delta"] * table["descriptor"].map(DISORDER_DIRECTION)
    significant = table[table["p_adjusted_bh"] < alpha]
    more = significant[significant["signed_delta"] > 0]
    less = significant[significant["signed_delta"] < 0]
    n_adv = int(comparison["n_adversarial"].max()) if len(comparison) else 0
    if n_adv < MIN_ADVERSARIAL:
        verdict = UNSURE
    elif len(more) and not len(less):
        verdict = HOLDS
    elif len(less) and not len(more):
        verdict = FAILS
    elif not len(significant):
        verdict = FAILS
    else:
        verdict = UNSURE
    best = table.sort_values("p_adjusted_bh").head(3)
    listing = ", ".join(
        f"{r.descriptor} (Cliff's delta {r.cliffs_delta:+.2f}, BH p = {r.p_adjusted_bh:.2g})" for r in best.itertuples()
    )
    return {
        "statistic": (
            f"{n_adv} adversarial vs {int(comparison['n_normal'].max()) if len(comparison) else 0} normal examples; "
            f"{len(more)} disorder descriptors significantly more disordered, {len(less)} less "
            f"(BH-adjusted p < {alpha}); smallest p: {listing}"
        ),
        "verdict": verdict,
    }


def claim_interpretable_wins(
    *,
    models: pd.DataFrame,
    alpha: float,
    reference: str = "interpretable",
    rivals: tuple[str, ...] = ("cgcnn_perturbed", "gbc_general"),
) -> dict:
    """(d) Mean accuracy difference and corrected paired t-test against each rival."""
    rows = models.set_index("model")
    parts, wins, losses = [], 0, 0
    for rival in rivals:
        if rival not in rows.index:
            parts.append(f"{rival}: missing")
            continue
        diff = rows.loc[rival, f"accuracy_diff_{reference}_minus_model"]
        p = rows.loc[rival, "accuracy_p_corrected_t"]
        parts.append(
            f"vs {rival}: accuracy {rows.loc[reference, 'accuracy_mean']:.3f} vs {rows.loc[rival, 'accuracy_mean']:.3f} "
            f"(paired difference {diff:+.3f}, corrected t-test p = {p:.2g})"
        )
        wins += bool(diff > 0 and p < alpha)
        losses += bool(diff <= 0)
    verdict = HOLDS if wins == len(rivals) else (FAILS if losses else UNSURE)
    return {"statistic": "; ".join(parts), "verdict": verdict}


def claim_unequal_atoms_rank(*, importance: pd.DataFrame, descriptors: pd.DataFrame) -> dict:
    """(e) Rank of the number of unequal atoms by mean |TreeSHAP| among the interpretable features."""
    ranks = importance.set_index("feature")["rank"]
    present = [n for n in UNEQUAL_ATOMS if n in ranks.index]
    varying = [n for n in present if descriptors[n].nunique() > 1]
    text = ", ".join(
        f"{n}: rank {int(ranks[n])} of {len(ranks)}" + ("" if n in varying else " (constant on this data)") for n in present
    )
    if not varying:
        verdict = UNSURE
    else:
        verdict = HOLDS if min(int(ranks[n]) for n in varying) <= TOP_RANK else FAILS
    return {"statistic": f"{text or 'not among the features'}; holds if in the top {TOP_RANK}", "verdict": verdict}


def claim_disorder_power(*, power: pd.DataFrame, alpha: float) -> dict:
    """(f) Per-descriptor bootstrap intervals of Spearman's rho with power density (read from the numbers)."""
    level = interval_level(alpha=alpha)
    table = power[power["disorder_direction"] != 0]
    relation = pd.Series(
        [
            disorder_relation(direction=int(r.disorder_direction), ci_low=r.ci_low, ci_high=r.ci_high, level=level)
            for r in table.itertuples()
        ],
        index=table.index,
        dtype=object,
    )
    more = table[relation == MORE_POWER]
    less = table[relation == LESS_POWER]
    if len(more) and not len(less):
        verdict = HOLDS
    elif len(less) and not len(more):
        verdict = FAILS
    else:
        verdict = UNSURE
    listing = "; ".join(
        f"{r.descriptor}: rho = {r.spearman_rho:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}], "
        f"at fixed x {r.partial_rho_fixed_x:+.2f}"
        for r in table.itertuples()
        if np.isfinite(r.spearman_rho)
    )
    return {
        "statistic": f"{len(more)} disorder descriptors go with more power density, {len(less)} with less "
        f"({100 * level:g} % bootstrap intervals): {listing}",
        "verdict": verdict,
    }


CLAIMS = (
    ("a", "The CGCNN baseline classifies high vs low efficiency better than chance."),
    ("b", "Perturbing the atomic positions lowers the classifier's accuracy."),
    ("c", "Adversarial examples are more structurally distorted than normal ones."),
    ("d", "The interpretable model beats the perturbed CGCNN and gradient boosting on general features."),
    ("e", "The number of unequal atoms is among the most important features of the interpretable model."),
    ("f", "More disordered configurations have a higher power density."),
)


def compute_claims(*, files: dict, alpha: float) -> list[dict]:
    """Every claim's statistic and verdict, from the run's files (keys as in rule `report_html`)."""
    results = {
        "a": claim_baseline_beats_chance(baseline_predictions=pd.read_csv(files["baseline_predictions"]), alpha=alpha),
        "b": claim_accuracy_falls(trend=read_json(files["trend"]), alpha=alpha),
        "c": claim_adversarial_more_distorted(comparison=pd.read_csv(files["adversarial_comparison"]), alpha=alpha),
        "d": claim_interpretable_wins(models=pd.read_csv(files["model_comparison"]), alpha=alpha),
        "e": claim_unequal_atoms_rank(importance=pd.read_csv(files["importance"]), descriptors=pd.read_csv(files["descriptors"])),
        "f": claim_disorder_power(power=pd.read_csv(files["power_density"]), alpha=alpha),
    }
    return [{"claim": key, "text": text, **results[key]} for key, text in CLAIMS]
