"""Every verdict of the pipeline, from numbers the stages wrote.

Stages write statistics; this module alone turns them into verdicts, at the
significance level `alpha` the config sets once (`verdicts.alpha`). Each claim
gets one of three outcomes:

- `supported`: significant in the claimed direction;
- `contradicted`: significant in the opposite direction, or an equivalence test
  (two one-sided tests: the 1 - 2 alpha interval inside +-`EQUIVALENCE_MARGIN`)
  shows the effect is too small to matter;
- `not supported`: no significant effect either way. The claim then states the
  smallest effect the data could have detected at 80 % power, because absence
  of evidence is not evidence of absence.

Each claim is a dict with `id`, `text`, `verdict`, `effect` (a number),
`effect_measure` (its scale, in words), `interval`, `interval_level`, `p_value`,
`detectable_effect` (where not supported), `statistic` and `sentence`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import binomtest, t

from .io import read_json
from .statistics import (
    clopper_pearson,
    detectable_correlation,
    detectable_proportion,
    detectable_shift,
    equivalent,
    spearman_interval,
)

Verdict = Literal["supported", "contradicted", "not supported"]
SUPPORTED: Verdict = "supported"
CONTRADICTED: Verdict = "contradicted"
NOT_SUPPORTED: Verdict = "not supported"
VERDICTS: tuple[Verdict, ...] = (SUPPORTED, CONTRADICTED, NOT_SUPPORTED)

TOP_RANK = 3  # claim (e): "among the most important" = in the top 3
# Effects inside these margins are too small to matter (equivalence tests), per claim.
EQUIVALENCE_MARGIN = {
    "a": 0.02,  # accuracy above the majority-class rate
    "b": 0.1,  # Spearman rho of accuracy with sigma
    "d": 0.02,  # accuracy difference
    "f": 0.1,  # partial rank correlation
}
NOT_DISTINGUISHABLE = "The adversarial set is not distinguishable from retraining noise, so the claim is judged on fragility. "
DISTINGUISHABLE = "The adversarial set is distinguishable from retraining noise. "
SQ_OPTIMUM_EV = 1.34  # band gap of the Shockley-Queisser maximum under AM1.5G


def interval_level(*, alpha: float) -> float:
    """Confidence level of intervals read at significance level `alpha`."""
    return 1.0 - alpha


def three_way(*, effect: float, p_value: float, alpha: float, claimed_sign: int, equivalence: bool = False) -> Verdict:
    """supported / contradicted / not supported from a signed effect, its p-value and an equivalence result."""
    if np.isfinite(p_value) and p_value < alpha and np.isfinite(effect) and effect != 0:
        return SUPPORTED if np.sign(effect) == claimed_sign else CONTRADICTED
    return CONTRADICTED if equivalence else NOT_SUPPORTED


def _claim(
    *, verdict: Verdict, effect, effect_measure, interval, level, p_value, detectable, statistic, sentence, **extra
) -> dict:
    out = {
        "verdict": verdict,
        "effect": float(effect) if effect is not None else float("nan"),
        "effect_measure": effect_measure,
        "interval": [float(interval[0]), float(interval[1])],
        "interval_level": level,
        "p_value": float(p_value),
        "statistic": statistic,
        "sentence": sentence,
        **extra,
    }
    if verdict == NOT_SUPPORTED:
        out["detectable_effect"] = float(detectable)
    return out


def accuracy_trend(*, rho: float, p_value: float, alpha: float) -> dict:
    """Does accuracy fall as sigma grows? (Spearman rho of fold accuracy against sigma.)"""
    falls = bool(rho < 0 and p_value < alpha)
    return {
        "falls_with_sigma": falls,
        "verdict": (
            "accuracy falls as sigma grows"
            if falls
            else "no significant fall of accuracy with sigma on this data (not a proof of none)"
        ),
    }


# --- the study's claims ---------------------------------------------------------


def claim_baseline_beats_chance(*, baseline_predictions: pd.DataFrame, alpha: float) -> dict:
    """(a) Out-of-fold accuracy of each seed against the majority-class rate; the weakest seed decides."""
    level = interval_level(alpha=alpha)
    per_seed = []
    for seed, part in baseline_predictions.groupby("seed"):
        k, n = int((part["pred"] == part["target"]).sum()), len(part)
        chance = float(part["target"].value_counts(normalize=True).max())
        per_seed.append(
            {
                "seed": seed,
                "k": k,
                "n": n,
                "chance": chance,
                "p_greater": binomtest(k, n, chance, alternative="greater").pvalue,
                "p_two_sided": binomtest(k, n, chance).pvalue,
            }
        )
    weakest = max(per_seed, key=lambda r: r["p_greater"])
    k, n, chance = weakest["k"], weakest["n"], weakest["chance"]
    lo, hi = clopper_pearson(k, n, level=level)
    tost = clopper_pearson(k, n, level=1 - 2 * alpha)
    effect = k / n - chance
    p = weakest["p_greater"] if effect > 0 else weakest["p_two_sided"]
    verdict = three_way(
        effect=effect,
        p_value=p,
        alpha=alpha,
        claimed_sign=1,
        equivalence=equivalent(interval=(tost[0] - chance, tost[1] - chance), margin=EQUIVALENCE_MARGIN["a"]),
    )
    detectable = detectable_proportion(n=n, p0=chance, alpha=alpha) - chance
    details = "; ".join(f"seed {r['seed']}: {r['k']}/{r['n']} vs {r['chance']:.3f}, p = {r['p_greater']:.2g}" for r in per_seed)
    return _claim(
        verdict=verdict,
        effect=effect,
        effect_measure="out-of-fold accuracy minus the majority-class rate (weakest seed)",
        interval=(lo - chance, hi - chance),
        level=level,
        p_value=p,
        detectable=detectable,
        statistic=f"one-sided exact binomial test per seed: {details}",
        sentence=f"The baseline's accuracy is {effect:+.3f} above the majority-class rate in its weakest seed.",
    )


def claim_accuracy_falls(*, trend: dict, alpha: float) -> dict:
    """(b) Spearman trend of fold accuracy with sigma for the classifier retrained on perturbed inputs."""
    level = interval_level(alpha=alpha)
    mode = "train" if "train" in trend else next(iter(trend))
    tr = trend[mode]
    rho, p, n = tr["spearman_rho_accuracy_vs_sigma"], tr["p_value"], int(tr.get("n_points", 0))
    interval = spearman_interval(rho, n, level=level)
    verdict = three_way(
        effect=rho,
        p_value=p,
        alpha=alpha,
        claimed_sign=-1,
        equivalence=equivalent(interval=spearman_interval(rho, n, level=1 - 2 * alpha), margin=EQUIVALENCE_MARGIN["b"]),
    )
    return _claim(
        verdict=verdict,
        effect=rho,
        effect_measure=f"Spearman rho of fold accuracy with sigma ({mode} mode)",
        interval=interval,
        level=level,
        p_value=p,
        detectable=-detectable_correlation(n=n, alpha=alpha),
        statistic=(
            f"{mode} mode: accuracy {tr['accuracy_at_smallest_sigma']:.3f} at the smallest sigma, "
            f"{tr['accuracy_at_largest_sigma']:.3f} at the largest; rho = {rho:.2f} over {n} (sigma, seed, fold) points"
        ),
        sentence=f"Accuracy {'falls' if rho < 0 else 'rises'} with sigma (rho = {rho:+.2f}).",
    )


def claim_adversarial_more_distorted(*, null_control: dict, fragility: pd.DataFrame, alpha: float) -> dict:
    """(c) First: is the adversarial set more than retraining noise (enrichment over the null)?
    Then: do more disordered configurations flip more easily (fragility, composition and margin fixed)?"""
    level = interval_level(alpha=alpha)
    counts = {k: null_control[k] for k in ("adversarial_count", "null_count", "enrichment")}
    distinguishable = np.isfinite(null_control["p_value"]) and null_control["p_value"] < alpha and null_control["enrichment"] > 1
    table = fragility.copy()
    significant = table[table["p_adjusted_bh"] < alpha]
    more, less = significant[significant["partial_rho"] > 0], significant[significant["partial_rho"] < 0]
    tested = table.dropna(subset=["p_value"])
    best = (more if len(more) else tested).sort_values("p_adjusted_bh").head(1)
    if best.empty:
        effect, interval, p = float("nan"), (float("nan"), float("nan")), float("nan")
        detectable = float("nan")
        name = "none"
    else:
        row = best.iloc[0]
        effect, interval, p = row["partial_rho"], (row["ci_low"], row["ci_high"]), row["p_adjusted_bh"]
        detectable = row["detectable_rho"]
        name = f"{row['descriptor']} ({row['measure']})"
    if len(more) and not len(less):
        verdict = SUPPORTED
    elif len(less) and not len(more):
        verdict = CONTRADICTED
    else:
        verdict = NOT_SUPPORTED
    null_words = (
        f"{counts['adversarial_count']} adversarial against {counts['null_count']} flagged by retraining alone "
        f"(enrichment {counts['enrichment']:.2f}, p = {null_control['p_value']:.2g})"
    )
    return _claim(
        verdict=verdict,
        effect=effect,
        effect_measure=f"partial rank correlation of disorder with fragility, x and baseline margin fixed: {name}",
        interval=interval,
        level=level,
        p_value=p,
        detectable=detectable,
        statistic=(
            f"{null_words}; {len(more)} descriptor-measure pairs significantly more fragile with more disorder, "
            f"{len(less)} less (BH across descriptors, alpha = {alpha})"
        ),
        sentence=(DISTINGUISHABLE if distinguishable else NOT_DISTINGUISHABLE) + _fragility_words(more, less, name, effect),
        adversarial_count=int(counts["adversarial_count"]),
        null_count=int(counts["null_count"]),
        enrichment=float(counts["enrichment"]),
        enrichment_p_value=float(null_control["p_value"]),
        adversarial_set_distinguishable=bool(distinguishable),
    )  # fmt: skip


def _fragility_words(more: pd.DataFrame, less: pd.DataFrame, name: str, effect: float) -> str:
    if len(more) and len(less):
        return (
            f"The fragility measures disagree: more disorder is significantly more fragile in {len(more)} "
            f"descriptor-measure pairs ({', '.join(sorted(set(more['measure'])))}) and less fragile in {len(less)} "
            f"({', '.join(sorted(set(less['measure'])))})."
        )
    if len(more) or len(less):
        return f"Strongest association: {name}, partial rho {effect:+.2f}."
    return "No disorder descriptor is significantly associated with fragility."


def claim_interpretable_wins(
    *,
    models: pd.DataFrame,
    alpha: float,
    reference: str = "interpretable",
    rivals: tuple[str, ...] = ("cgcnn_perturbed", "gbc_general"),
) -> dict:
    """(d) Corrected paired t-test of the accuracy difference against each rival; the weakest win decides."""
    level = interval_level(alpha=alpha)
    rows = models.set_index("model")
    results = []
    for rival in rivals:
        if rival not in rows.index:
            continue
        diff = float(rows.loc[rival, f"accuracy_diff_{reference}_minus_model"])
        se = float(rows.loc[rival, "accuracy_se_corrected"])
        df = int(rows.loc[rival, "n_paired_runs"]) - 1
        p = float(rows.loc[rival, "accuracy_p_corrected_t"])
        half = t.ppf(0.5 + level / 2, df) * se
        tost_half = t.ppf(1 - alpha, df) * se
        tost = (diff - tost_half, diff + tost_half)
        results.append({"rival": rival, "diff": diff, "se": se, "df": df, "p": p, "interval": (diff - half, diff + half),
                        "equivalent": equivalent(interval=tost, margin=EQUIVALENCE_MARGIN["d"])})  # fmt: skip
    if not results:
        raise ValueError(f"model comparison has none of the rivals {rivals}")
    verdicts = [
        three_way(effect=r["diff"], p_value=r["p"], alpha=alpha, claimed_sign=1, equivalence=r["equivalent"]) for r in results
    ]
    if all(v == SUPPORTED for v in verdicts):
        verdict = SUPPORTED
    elif any(v == CONTRADICTED for v in verdicts):
        verdict = CONTRADICTED
    else:
        verdict = NOT_SUPPORTED
    decisive = min(results, key=lambda r: r["diff"] / r["se"] if r["se"] > 0 else np.inf)
    listing = "; ".join(f"vs {r['rival']}: {r['diff']:+.3f} [{r['interval'][0]:+.3f}, {r['interval'][1]:+.3f}], p = {r['p']:.2g}"
                        for r in results)  # fmt: skip
    return _claim(
        verdict=verdict,
        effect=decisive["diff"],
        effect_measure=f"accuracy of the interpretable model minus {decisive['rival']} (paired over (seed, fold) runs)",
        interval=decisive["interval"],
        level=level,
        p_value=decisive["p"],
        detectable=detectable_shift(se=decisive["se"], alpha=alpha),
        statistic=f"Nadeau-Bengio corrected paired t-tests: {listing}",
        sentence=f"The interpretable model's accuracy differs from {decisive['rival']} by {decisive['diff']:+.3f}.",
    )


def claim_unequal_atoms_rank(
    *, run_ranks: pd.DataFrame, feature: str, n_boot: int, seed: int, alpha: float, distinct_values: int | None = None
) -> dict:
    """(e) Rank of `feature` by mean |TreeSHAP| per (seed, fold) run, with a bootstrap interval over runs.

    `distinct_values`: how many values the feature takes on the data; a constant feature
    cannot be ranked (its rank is a tie-break), so the claim is then not supported, untested.
    """
    level = interval_level(alpha=alpha)
    ranks = run_ranks.loc[run_ranks["feature"] == feature, "rank"].to_numpy(float)
    n_features = int(run_ranks["feature"].nunique())
    if ranks.size == 0:
        raise ValueError(
            f"{feature} is not among the interpretable model's features (interpret.features, verdicts.unequal_atoms)"
        )
    measure = f"mean rank of {feature} by mean |TreeSHAP| over (seed, fold) runs, 1 = most important, of {n_features}"
    if distinct_values is not None and distinct_values < 2:
        return _claim(
            verdict=NOT_SUPPORTED,
            effect=None,
            effect_measure=measure,
            interval=(float("nan"), float("nan")),
            level=level,
            p_value=float("nan"),
            detectable=float("nan"),
            statistic=f"{feature} takes one value on this data: the model cannot use it, so its rank says nothing",
            sentence=f"{feature} is constant on this data, so the claim cannot be tested here (see verdicts.unequal_atoms).",
        )
    rng = np.random.default_rng(seed)
    boot = rng.choice(ranks, size=(n_boot, ranks.size)).mean(axis=1)
    lo, hi = np.percentile(boot, [50 * (1 - level), 50 * (1 + level)])
    mean = float(ranks.mean())
    # One-sided bootstrap p of "mean rank <= TOP_RANK" against its opposite.
    p_top = float((np.sum(boot > TOP_RANK) + 1) / (n_boot + 1))
    p_not = float((np.sum(boot <= TOP_RANK) + 1) / (n_boot + 1))
    if hi <= TOP_RANK:
        verdict, p = SUPPORTED, p_top
    elif lo > TOP_RANK:
        verdict, p = CONTRADICTED, p_not
    else:
        verdict, p = NOT_SUPPORTED, min(p_top, p_not)
    spread = float(np.std(boot))
    return _claim(
        verdict=verdict,
        effect=mean,
        effect_measure=measure,
        interval=(lo, hi),
        level=level,
        p_value=p,
        detectable=detectable_shift(se=spread, alpha=alpha),
        statistic=f"{feature}: mean rank {mean:.2f} over {ranks.size} runs; supported if its interval lies in the top {TOP_RANK}",
        sentence=f"{feature} ranks {mean:.1f} of {n_features} on average.",
    )


def claim_disorder_power(*, power: pd.DataFrame, alpha: float) -> dict:
    """(f) Disorder against power density at fixed composition, read against the Shockley-Queisser optimum."""
    level = interval_level(alpha=alpha)
    table = power[power["disorder_direction"] != 0].dropna(subset=["signed_partial_rho"]).copy()
    if table.empty:
        raise ValueError("no disorder descriptor varies on this data: claim (f) cannot be tested")
    significant = table[table["p_adjusted_bh"] < alpha]
    more = significant[significant["signed_partial_rho"] > 0]
    less = significant[significant["signed_partial_rho"] < 0]
    decisive = (more if len(more) else (less if len(less) else table)).sort_values("p_adjusted_bh").iloc[0]
    if len(more) and not len(less):
        verdict = SUPPORTED
    elif len(less) and not len(more):
        verdict = CONTRADICTED
    elif not len(significant) and all(
        equivalent(interval=(r.tost_low, r.tost_high), margin=EQUIVALENCE_MARGIN["f"]) for r in table.itertuples()
    ):
        verdict = CONTRADICTED
    else:
        verdict = NOT_SUPPORTED
    gap_words = (
        f"more disorder goes with a {'larger' if decisive['signed_rho_gap_fixed_x'] > 0 else 'smaller'} gap at fixed x "
        f"(partial rho {decisive['signed_rho_gap_fixed_x']:+.2f}); the gaps lie "
        + ("below" if decisive["median_gap"] < SQ_OPTIMUM_EV else "above")
        + f" the SQ optimum ({SQ_OPTIMUM_EV} eV, median {decisive['median_gap']:.2f} eV), where a "
        + ("larger" if decisive["median_gap"] < SQ_OPTIMUM_EV else "smaller")
        + " gap means more power"
    )
    return _claim(
        verdict=verdict,
        effect=decisive["signed_partial_rho"],
        effect_measure=f"partial rank correlation of disorder ({decisive['descriptor']}) with power density at fixed x",
        interval=(decisive["signed_ci_low"], decisive["signed_ci_high"]),
        level=level,
        p_value=decisive["p_adjusted_bh"],
        detectable=detectable_correlation(n=int(decisive["n"]) - 1, alpha=alpha),
        statistic=f"{len(more)} disorder descriptors go with more power at fixed x, {len(less)} with less (BH); {gap_words}",
        sentence=f"At fixed composition, {gap_words}.",
    )


CLAIMS = (
    ("a", "The CGCNN baseline classifies high vs low efficiency better than chance."),
    ("b", "Perturbing the atomic positions lowers the classifier's accuracy."),
    ("c", "Adversarial examples are more structurally distorted than normal ones."),
    ("d", "The interpretable model beats the perturbed CGCNN and gradient boosting on general features."),
    ("e", "The number of unequal atoms is among the most important features of the interpretable model."),
    ("f", "More disordered configurations have a higher power density."),
)


def _distinct_values(path, *, column: str) -> int | None:
    """How many values `column` takes in a descriptor table (None: no table given, or no such column)."""
    if path is None:
        return None
    table = pd.read_csv(path)
    return int(table[column].nunique()) if column in table else None


def compute_claims(*, files: dict, alpha: float, unequal_atoms: str, n_boot: int, seed: int) -> list[dict]:
    """Every claim from the run's files (keys as in rule `report_html`)."""
    results = {
        "a": claim_baseline_beats_chance(baseline_predictions=pd.read_csv(files["baseline_predictions"]), alpha=alpha),
        "b": claim_accuracy_falls(trend=read_json(files["trend"]), alpha=alpha),
        "c": claim_adversarial_more_distorted(
            null_control=read_json(files["null_control"]), fragility=pd.read_csv(files["fragility"]), alpha=alpha
        ),
        "d": claim_interpretable_wins(models=pd.read_csv(files["model_comparison"]), alpha=alpha),
        "e": claim_unequal_atoms_rank(
            run_ranks=pd.read_csv(files["run_ranks"]),
            feature=unequal_atoms,
            n_boot=n_boot,
            seed=seed,
            alpha=alpha,
            distinct_values=_distinct_values(files.get("descriptors"), column=unequal_atoms),
        ),
        "f": claim_disorder_power(power=pd.read_csv(files["power_density"]), alpha=alpha),
    }
    return [{"id": key, "text": text, **results[key]} for key, text in CLAIMS]
