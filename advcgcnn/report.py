"""The claims of the study, tested on this run's files, and the self-contained HTML report.

Every verdict is computed here from the run's output tables (never typed in),
with the thresholds below; the report states the statistic next to it.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from .descriptors import DISORDER_DIRECTION
from .io import atomic_open, read_json, write_json
from .train import CLASSIFICATION_METRICS

ALPHA = 0.05  # significance level of every test behind a verdict
MIN_ADVERSARIAL = 10  # fewer adversarial examples than this: claim (c) is inconclusive
TOP_RANK = 3  # claim (e) holds when "number of unequal atoms" is among the top features
UNEQUAL_ATOMS = ("n_unequal_atoms", "n_unequal_atoms_arrangement")
HOLDS, FAILS, UNSURE = "holds", "does not hold", "inconclusive"


def claim_baseline_beats_chance(baseline_predictions: pd.DataFrame) -> dict:
    """(a) Out-of-fold accuracy of every seed against the majority-class rate (one-sided binomial)."""
    from scipy.stats import binomtest

    details, ps, margins = [], [], []
    for seed, part in baseline_predictions.groupby("seed"):
        correct = int((part["pred"] == part["target"]).sum())
        n = len(part)
        chance = float(part["target"].value_counts(normalize=True).max())
        p = binomtest(correct, n, chance, alternative="greater").pvalue
        ps.append(p)
        margins.append(correct / n - chance)
        details.append(f"seed {seed}: {correct}/{n} = {correct / n:.3f} vs {chance:.3f}, p = {p:.2g}")
    verdict = HOLDS if max(ps) < ALPHA else (FAILS if min(margins) <= 0 else UNSURE)
    return {
        "statistic": f"out-of-fold accuracy against the majority-class rate, one-sided binomial test: {'; '.join(details)}",
        "verdict": verdict,
    }


def claim_accuracy_falls(trend: dict) -> dict:
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
        verdict = HOLDS if (rho < 0 and p < ALPHA) else FAILS
    return {
        "statistic": (
            f"{mode} mode: accuracy {t['accuracy_at_smallest_sigma']:.3f} at the smallest sigma, "
            f"{t['accuracy_at_largest_sigma']:.3f} at the largest; Spearman rho = {rho:.2f}, p = {p:.2g}"
            + (f" (other modes: {others})" if others else "")
        ),
        "verdict": verdict,
    }


def claim_adversarial_more_distorted(comparison: pd.DataFrame) -> dict:
    """(c) Direction-aware Mann-Whitney tests (BH-adjusted) of adversarial vs normal examples."""
    table = comparison[comparison["descriptor"].map(DISORDER_DIRECTION).fillna(0) != 0].copy()
    table["signed_delta"] = table["cliffs_delta"] * table["descriptor"].map(DISORDER_DIRECTION)
    significant = table[table["p_adjusted_bh"] < ALPHA]
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
            f"(BH-adjusted p < {ALPHA}); smallest p: {listing}"
        ),
        "verdict": verdict,
    }


def claim_interpretable_wins(models: pd.DataFrame, reference: str = "interpretable", rivals=("cgcnn_perturbed", "gbc_general")) -> dict:
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
        wins += bool(diff > 0 and p < ALPHA)
        losses += bool(diff <= 0)
    verdict = HOLDS if wins == len(rivals) else (FAILS if losses else UNSURE)
    return {"statistic": "; ".join(parts), "verdict": verdict}


def claim_unequal_atoms_rank(importance: pd.DataFrame, descriptors: pd.DataFrame) -> dict:
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


def claim_disorder_power(power: pd.DataFrame) -> dict:
    """(f) Per-descriptor bootstrap intervals of Spearman's rho with power density."""
    table = power[power["disorder_direction"] != 0]
    more = table[table["verdict"] == "more disorder, more power density"]
    less = table[table["verdict"] == "more disorder, less power density"]
    if len(more) and not len(less):
        verdict = HOLDS
    elif len(less) and not len(more):
        verdict = FAILS
    else:
        verdict = UNSURE
    listing = "; ".join(
        f"{r.descriptor}: rho = {r.spearman_rho:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}], at fixed x {r.partial_rho_fixed_x:+.2f}"
        for r in table.itertuples() if np.isfinite(r.spearman_rho)
    )
    return {
        "statistic": f"{len(more)} disorder descriptors go with more power density, {len(less)} with less (95 % bootstrap intervals): {listing}",
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


def compute_claims(files: dict) -> list[dict]:
    """Every claim's statistic and verdict, from the run's files (keys as in `REPORT_INPUTS`)."""
    results = {
        "a": claim_baseline_beats_chance(pd.read_csv(files["baseline_predictions"])),
        "b": claim_accuracy_falls(read_json(files["trend"])),
        "c": claim_adversarial_more_distorted(pd.read_csv(files["adversarial_comparison"])),
        "d": claim_interpretable_wins(pd.read_csv(files["model_comparison"])),
        "e": claim_unequal_atoms_rank(pd.read_csv(files["importance"]), pd.read_csv(files["descriptors"])),
        "f": claim_disorder_power(pd.read_csv(files["power_density"])),
    }
    return [{"claim": key, "text": text, **results[key]} for key, text in CLAIMS]


# --- HTML -------------------------------------------------------------------------

REPORT_FIGURES = (
    ("sweep_figure", "Accuracy and ROC-AUC against the displacement amplitude (mean ± std over seeds and folds)."),
    ("adversarial_figure", "Descriptor distributions of adversarial and normal examples."),
    ("shap_figure", "TreeSHAP summary of the interpretable model (held-out predictions of every fold and seed)."),
    ("pd_figure", "Partial dependence of the predicted probability on the top features (band: std over models)."),
    ("power_figure", "Maximum power density against each descriptor (title: Spearman ρ and 95 % bootstrap interval)."),
)
VERDICT_COLOURS = {HOLDS: "#1a7f37", FAILS: "#cf222e", UNSURE: "#9a6700"}


def _img(path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    kind = "svg+xml" if str(path).endswith(".svg") else "png"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    table = frame.to_html(index=False, border=0, classes="data", float_format=lambda v: f"{v:.{digits}g}", na_rep="–")
    return f'<div class="scroll">{table}</div>'


def _dataset_section(files: dict) -> str:
    summary = read_json(files["dataset_summary"])
    labels = pd.read_csv(files["labels"])
    per_x = labels.groupby("x")["label"].agg(configurations="size", high="sum").reset_index()
    per_x["low"] = per_x["configurations"] - per_x["high"]
    quarantine = pd.read_csv(files["quarantine"])
    reasons = quarantine["reason"].str.replace(r"[-0-9.]+ eV", "… eV", regex=True).value_counts() if len(quarantine) else pd.Series(dtype=int)
    rule = summary["label_rule"]
    return (
        f"<p>{summary['n_ingested']} configurations ingested, {summary['n_quarantined']} quarantined; "
        f"labels: {summary['n_high']} high, {summary['n_low']} low efficiency "
        f"(rule: {html.escape(rule['rule'])} on {html.escape(rule['metric'])}).</p>"
        + (f"<p>Quarantine reasons: {', '.join(f'{html.escape(str(k))} ({v})' for k, v in reasons.items())}.</p>" if len(reasons) else "")
        + "<details open><summary>Configurations and labels per composition x</summary>" + _table(per_x) + "</details>"
    )


def _baseline_section(files: dict) -> str:
    s = read_json(files["baseline_summary"])
    rows = pd.DataFrame(
        [{"metric": m, "mean": s[m]["mean"], "std": s[m]["std"], "runs": s["n_runs"]} for m in CLASSIFICATION_METRICS]
    )
    return "<p>Held-out metrics over every (seed, fold) job.</p>" + _table(rows)


def build_report(files: dict, claims: list[dict], html_out: str) -> None:
    figures = {key: _img(files[key], caption) for key, caption in REPORT_FIGURES}
    captions = dict(REPORT_FIGURES)
    adversarial = pd.read_csv(files["adversarial_comparison"])
    models = pd.read_csv(files["model_comparison"])
    metrics_view = models[["model", "description", "n_runs"]].copy()
    for metric, name in (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("roc_auc", "ROC-AUC"), ("f1", "F1")):
        metrics_view[name] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(models[f"{metric}_mean"], models[f"{metric}_std"])]
    rivals = models[models["model"] != "interpretable"]
    tests_view = pd.DataFrame({"model": rivals["model"], "paired runs": rivals["n_paired_runs"]})
    for metric, name in (("accuracy", "accuracy"), ("roc_auc", "ROC-AUC")):
        tests_view[f"Δ {name}"] = rivals[f"{metric}_diff_interpretable_minus_model"]
        tests_view[f"p Wilcoxon ({name})"] = rivals[f"{metric}_p_wilcoxon"]
        tests_view[f"p corrected t ({name})"] = rivals[f"{metric}_p_corrected_t"]
    power = pd.read_csv(files["power_density"])
    importance = pd.read_csv(files["importance"])
    ranked = pd.read_csv(files["screening_ranked"])
    screening = read_json(files["screening_summary"])
    attack = pd.read_csv(files["gradient_attack"])

    def figure(key):
        return f"<figure>{figures[key]}<figcaption>{html.escape(captions[key])}</figcaption></figure>"

    claim_rows = "".join(
        f"<tr><td>({c['claim']})</td><td>{html.escape(c['text'])}</td><td>{html.escape(c['statistic'])}</td>"
        f"<td class='verdict' style='color:{VERDICT_COLOURS[c['verdict']]}'>{c['verdict']}</td></tr>"
        for c in claims
    )
    flipped = attack["flip_norm"].notna()
    screening_text = (
        f"<p>{screening['n_orbits']} symmetry-distinct arrangements enumerated, {screening['n_orbits_labelled']} of them labelled, "
        f"{screening['n_unlabelled']} unlabelled, {screening['n_candidates']} scored on ideal, unrelaxed cells "
        "(<code>outside_training_range</code> counts the interpretable features outside the training range). "
        "Ranked by the ensemble mean P(high), the CGCNN and interpretable families weighted equally. Top 15:</p>"
    )
    next_round = pd.read_csv(files["screening_next_round"])
    next_text = (
        f"<p>Next round: the {len(next_round)} most uncertain candidates (largest spread of P(high) over both ensembles)"
        + (f", relaxed with CHGNet ({int(next_round['framework_intact'].sum())} kept an intact framework) and scored again. "
           if len(next_round) and bool(next_round["relaxed"].iloc[0]) else ". ")
        + "POSCAR files: <code>screening/next_round_poscars/</code>.</p>"
    )
    top = ranked.head(15)[[c for c in ["rank", "candidate", "x", "multiplicity", "cgcnn_mean", "cgcnn_std", "interpretable_mean",
                                       "interpretable_std", "prob_high_mean", "prob_high_std", "outside_training_range"] if c in ranked]]
    body = f"""
<h1>Adversarial CGCNN analysis: run report</h1>
<p class="meta">Generated from the files of this run in <code>{html.escape(str(Path(files['dataset_summary']).parent.parent))}</code>.
Every number and verdict below is computed from them.</p>

<h2 id="claims">Claims of the study, tested on this run</h2>
<p>Thresholds: significance level {ALPHA}; at least {MIN_ADVERSARIAL} adversarial examples for (c); top {TOP_RANK} for (e).</p>
<table class="claims"><tr><th></th><th>claim</th><th>statistic on this run</th><th>verdict</th></tr>{claim_rows}</table>

<h2 id="dataset">Dataset</h2>
{_dataset_section(files)}

<h2 id="cgcnn">CGCNN baseline</h2>
{_baseline_section(files)}

<h2 id="perturbation">Perturbation sweep</h2>
{figure("sweep_figure")}

<h2 id="adversarial">Adversarial vs normal examples</h2>
{figure("adversarial_figure")}
{_table(adversarial)}
<p>Gradient attack on the seed-0 baseline models: {int(flipped.sum())} of {len(attack)} correctly classified
configurations flip within the largest budget; median flipping displacement
{attack.loc[flipped, 'flip_norm'].median() if flipped.any() else float('nan'):.3g} Å (L2 over the cell).</p>

<h2 id="comparison">Model comparison (identical folds)</h2>
{_table(metrics_view)}
<p>Mean ± std over (seed, fold) runs; the full table is <code>interpret/comparison.csv</code>.</p>
<p>Paired tests of the interpretable model against each model over shared (seed, fold) runs
(difference = interpretable minus model; Wilcoxon signed-rank and Nadeau-Bengio corrected t-test):</p>
{_table(tests_view)}

<h2 id="shap">Interpretable model: TreeSHAP</h2>
{figure("shap_figure")}
{_table(importance)}
{figure("pd_figure")}

<h2 id="power">Power density and disorder</h2>
{figure("power_figure")}
{_table(power)}

<h2 id="screening">Screening of unlabelled arrangements</h2>
{screening_text}
{_table(top)}
{next_text}
{_table(next_round)}
"""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>advcgcnn run report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
table.claims td.verdict {{ font-weight: bold; white-space: nowrap; }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; }}
figcaption {{ font-size: 0.85em; color: #57606a; }}
.meta {{ color: #57606a; }}
.scroll {{ overflow-x: auto; }}
</style></head><body>{body}</body></html>
"""
    with atomic_open(html_out) as fh:
        fh.write(page)


def run_report(files: dict, html_out: str, claims_out: str) -> list[dict]:
    claims = compute_claims(files)
    write_json(claims_out, claims)
    build_report(files, claims, html_out)
    return claims
