"""The self-contained HTML report of a run, with the claims of the study tested on its files.

Verdicts come from `verdicts.compute_claims` (never typed in); the report states
the statistic next to each.
"""

from __future__ import annotations

import base64
import datetime
import html
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from .io import atomic_open, read_json, write_json
from .metrics import CLASSIFICATION_METRICS
from .verdicts import CONTRADICTED, NOT_SUPPORTED, SUPPORTED, TOP_RANK, compute_claims

# --- HTML -------------------------------------------------------------------------

REPORT_FIGURES = (
    ("sweep_figure", "Accuracy and ROC-AUC against the displacement amplitude (mean ± std over seeds and folds)."),
    ("adversarial_figure", "Descriptor distributions of adversarial and normal examples."),
    ("shap_figure", "TreeSHAP summary of the interpretable model (held-out predictions of every fold and seed)."),
    ("pd_figure", "Partial dependence of the predicted probability on the top features (band: std over models)."),
    ("power_figure", "Maximum power density against each descriptor (title: Spearman ρ and 95 % bootstrap interval)."),
)
VERDICT_COLOURS = {SUPPORTED: "#1a7f37", CONTRADICTED: "#cf222e", NOT_SUPPORTED: "#9a6700"}


def _img(path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    kind = "svg+xml" if str(path).endswith(".svg") else "png"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{data}">'


# Column names a reader understands; any other column shows with spaces for underscores.
READABLE_COLUMNS = {
    "n_adversarial": "adversarial (n)",
    "n_normal": "normal (n)",
    "p_value": "p",
    "p_adjusted_bh": "p (BH-adjusted)",
    "cliffs_delta": "Cliff's delta",
    "mann_whitney_u": "Mann-Whitney U",
    "spearman_rho": "Spearman ρ",
    "ci_low": "interval low",
    "ci_high": "interval high",
    "partial_rho_fixed_x": "partial ρ at fixed x",
    "disorder_direction": "disorder direction",
    "mean_abs_contribution": "mean |TreeSHAP|",
    "prob_high_mean": "P(high) mean",
    "prob_high_std": "P(high) spread",
    "prob_high_mean_ideal": "P(high) mean, ideal cell",
    "prob_high_std_ideal": "P(high) spread, ideal cell",
    "cgcnn_mean": "CGCNN P(high)",
    "cgcnn_std": "CGCNN spread",
    "interpretable_mean": "interpretable P(high)",
    "interpretable_std": "interpretable spread",
    "outside_training_range": "features outside training range",
    "source_file": "file",
}
PROVENANCE_PACKAGES = (
    "advcgcnn", "snakemake", "snakemake-executor-plugin-slurm", "torch", "numpy", "scipy", "pandas", "pymatgen",
    "spglib", "ase", "h5py", "scikit-learn", "lightgbm", "matplotlib",
)  # fmt: skip


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    readable = frame.rename(columns=lambda c: READABLE_COLUMNS.get(c, str(c).replace("_", " ")))
    table = readable.to_html(index=False, border=0, classes="data", float_format=lambda v: f"{v:.{digits}g}", na_rep="–")
    return f'<div class="scroll">{table}</div>'


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(workflow_dir: str | Path) -> str:
    """The workflow's commit, marked when the checkout has uncommitted changes; or why there is none."""
    try:
        head = subprocess.run(
            ["git", "-C", str(workflow_dir), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(workflow_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"{head} (with uncommitted changes)" if dirty else head


def stage_wall_times(benchmarks_dir: str | Path) -> pd.DataFrame:
    """Wall time per stage from Snakemake's benchmark files (one stage per rule folder or file)."""
    rows = []
    for path in sorted(Path(benchmarks_dir).rglob("*.tsv")):
        stage = path.relative_to(benchmarks_dir).parts[0].removesuffix(".tsv")
        rows.append({"stage": stage, "seconds": float(pd.read_csv(path, sep="\t")["s"].sum())})
    if not rows:
        return pd.DataFrame(columns=["stage", "jobs", "seconds (sum over jobs)"])
    table = pd.DataFrame(rows).groupby("stage")["seconds"].agg(["size", "sum"]).reset_index()
    return table.rename(columns={"size": "jobs", "sum": "seconds (sum over jobs)"})


def _provenance_section(*, files: dict, config: dict, workflow_dir: str | Path) -> str:
    results = Path(files["dataset_summary"]).parent.parent
    facts = pd.DataFrame(
        {
            "what": ["written", "host", "workflow commit", "workflow folder", "results folder"],
            "value": [
                datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                socket.gethostname(),
                git_commit(workflow_dir),
                str(workflow_dir),
                str(results),
            ],
        }
    )
    versions = pd.DataFrame(list(package_versions().items()), columns=["package", "version"])
    config_yaml = yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
    return (
        _table(facts)
        + "<details><summary>Package versions</summary>" + _table(versions) + "</details>"
        + "<details><summary>Wall time per stage (Snakemake benchmarks)</summary>"
        + _table(stage_wall_times(results / "benchmarks"), digits=4) + "</details>"
        + "<details><summary>Configuration as run (validated, defaults filled in)</summary>"
        + f"<pre>{html.escape(config_yaml)}</pre></details>"
    )  # fmt: skip


def _dataset_section(files: dict) -> str:
    summary = read_json(files["dataset_summary"])
    labels = pd.read_csv(files["labels"])
    per_x = labels.groupby("x")["label"].agg(configurations="size", high="sum").reset_index()
    per_x["low"] = per_x["configurations"] - per_x["high"]
    quarantine = pd.read_csv(files["quarantine"])
    reasons = (
        quarantine["reason"].str.replace(r"[-0-9.]+ eV", "… eV", regex=True).value_counts()
        if len(quarantine)
        else pd.Series(dtype=int)
    )
    rule = summary["label_rule"]
    quarantined = (
        "<details><summary>Quarantined configurations and why</summary>"
        + _table(quarantine[["id", "source_file", "reason"]])
        + "</details>"
        if len(quarantine)
        else ""
    )
    return (
        f"<p>{summary['n_ingested']} configurations ingested, {summary['n_quarantined']} quarantined; "
        f"labels: {summary['n_high']} high, {summary['n_low']} low efficiency "
        f"(rule: {html.escape(rule['rule'])} on {html.escape(rule['metric'])}).</p>"
        + (
            f"<p>Quarantine reasons: {', '.join(f'{html.escape(str(k))} ({v})' for k, v in reasons.items())}.</p>"
            if len(reasons)
            else ""
        )
        + quarantined
        + "<details open><summary>Configurations and labels per composition x</summary>"
        + _table(per_x)
        + "</details>"
    )


def _halving_sentence(stability: dict) -> str:
    """The force-tolerance check in words; older provenance files carry only the largest shift."""
    halving = stability.get("halving_fmax")
    if not halving:
        return f"Halving the force tolerance moved a kept gap by at most {stability['halving_fmax_max_gap_shift_eV']:.3f} eV."
    verdict = "met" if halving["criterion_met"] else "not met"
    if "label_fmax_eV_per_A" in halving:  # each label's own tolerance, from the refinement ladder
        counts = ", ".join(f"{n} at {f}" for f, n in halving["label_fmax_eV_per_A"].items())
        tolerance = f"each label's own tolerance, in eV/A: {counts}"
    else:
        tolerance = f"{halving['fmax_eV_per_A']} eV/A"
    return (
        f"Halving the force tolerance ({tolerance}) moved the kept gap by more than "
        f"{halving['criterion_eV']} eV for {halving['n_over_criterion']} of {halving['n_arrangements']} arrangements "
        f"(median {halving['median_shift_eV']:.3f} eV, largest {halving['max_shift_eV']:.3f} eV): criterion {verdict}."
    )


def _refinement_sentence(refinement: dict | None, protocol: dict) -> str:
    """The kept cells' refinement in words (absent in provenance files that predate it)."""
    if not refinement:
        return ""
    sentence = (
        f" Every relaxation ran to {protocol.get('fmax')} eV/A; the kept cell was refined to "
        f"{refinement['refine_fmax_eV_per_A']} eV/A"
    )
    if "label_fmax_eV_per_A" in refinement:
        counts = ", ".join(f"{n} at {f}" for f, n in refinement["label_fmax_eV_per_A"].items())
        sentence += (
            f" and on, halving the tolerance until {refinement.get('settled_halvings', 1)} halvings in a row moved the gap "
            f"by at most {refinement['gap_tolerance_eV']} eV "
            f"(labels by final tolerance in eV/A: {counts}; {refinement['not_tolerance_converged']} never settled)"
        )
    return (
        sentence + f", which moved the gap by {refinement['median_gap_shift_eV']:.3f} eV "
        f"(median), at most {refinement['max_gap_shift_eV']:.3f} eV."
    )


def _labels_section(files: dict) -> str:
    """How the source's labels were made: protocol, stability, PBE cross-check, gap against x (demo provenance)."""
    if "label_provenance" not in files:
        return "<p>No label provenance ships beside the source (a provenance.json next to an extxyz file).</p>"
    p = read_json(files["label_provenance"])
    protocol = p.get("protocol", {})
    parts = [f"<p>{html.escape(p.get('what', ''))}</p>"]
    if protocol:
        parts.append(
            f"<p>Protocol: <code>{html.escape(str(protocol.get('name', 'rattle')))}</code>; "
            f"{p.get('n_configurations')} configurations kept of {p.get('n_planned', 'the')} planned."
            f"{_refinement_sentence(p.get('refinement'), protocol)}</p>"
        )
    calibration = p.get("calibration", {})
    if calibration:
        parts.append(
            f"<p>Calibration: {html.escape(calibration['formula'])}, slope {calibration['slope']:.3g}, intercept "
            f"{calibration['intercept']:.3g} eV; evidence: {html.escape(calibration.get('evidence', 'the two end members'))}.</p>"
        )
    stability = p.get("label_stability")
    if stability:
        table = pd.DataFrame(stability["protocol_comparison"])
        default = table[table["protocol"] == stability["default_protocol"]].iloc[0]
        parts.append(
            f"<p>Label stability on {int(default['n_arrangements'])} arrangements relabelled under a perturbation of each "
            f"protocol. Default protocol <b>{html.escape(stability['default_protocol'])}</b>: labels are "
            f"{html.escape(default['verdict'])}. Clearest protocol: {html.escape(stability['clearest_protocol'])}. "
            f"{_halving_sentence(stability)}</p>"
        )
        columns = [
            "protocol",
            "within_sd_eV",
            "between_sd_eV",
            "within_over_between",
            "ratio_ci_low",
            "ratio_ci_high",
            "seconds_per_label",
            "verdict",
        ]
        parts.append(_table(table[columns]))
    against_x = p.get("gap_against_x")
    if against_x:
        ends = against_x["experimental_end_points_eV"]
        parts.append(
            f"<p>Labelled gap against x beside experiment (CsSnBr3 {ends['host']} eV, CsSnI3 {ends['substituent']} eV): "
            + "; ".join(html.escape(n) for n in against_x["disagreements_with_experiment"])
            + ".</p>"
            + "<details><summary>Labelled gap per I count</summary>"
            + _table(pd.DataFrame(against_x["per_n_I"]))
            + "</details>"
        )
    pbe = p.get("pbe_cross_check")
    if pbe and pbe.get("n_cells"):
        overall = pbe["all_cells"]
        parts.append(
            f"<p>PBE cross-check (GPAW {html.escape(pbe['gpaw_version'])}, Gamma point, {pbe['n_cells']} relaxed cells, "
            f"{pbe['seconds_per_cell']:.0f} s per cell on {pbe['mpi_ranks']} MPI ranks): over all cells Spearman rho "
            f"{overall['spearman_rho']:.2f}, slope {overall['slope_pbe_per_gfn1']:.2f} eV PBE per eV GFN1. "
            "Within a composition:</p>" + _table(pd.DataFrame(pbe["per_composition"]))
        )
    elif pbe is not None:
        parts.append("<p>PBE cross-check: not run.</p>")
    if p.get("symmetry_by_n_I"):
        parts.append(
            "<details><summary>Symmetry of the kept minima per I count</summary>"
            + _table(pd.DataFrame(p["symmetry_by_n_I"]))
            + "</details>"
        )
    return "".join(parts)  # fmt: skip


def _baseline_section(files: dict) -> str:
    s = read_json(files["baseline_summary"])
    rows = pd.DataFrame(
        [{"metric": m, "mean": s[m]["mean"], "std": s[m]["std"], "runs": s["n_runs"]} for m in CLASSIFICATION_METRICS]
    )
    return "<p>Held-out metrics over every (seed, fold) job.</p>" + _table(rows)


def build_report(*, files: dict, claims: list[dict], alpha: float, config: dict, workflow_dir: str | Path, html_out: str) -> None:
    figures = {key: _img(files[key], caption) for key, caption in REPORT_FIGURES}
    captions = dict(REPORT_FIGURES)
    adversarial = pd.read_csv(files["adversarial_comparison"])
    models = pd.read_csv(files["model_comparison"])
    metrics_view = models[["model", "description", "n_runs"]].copy()
    for metric, name in (
        ("accuracy", "accuracy"),
        ("balanced_accuracy", "balanced accuracy"),
        ("roc_auc", "ROC-AUC"),
        ("f1", "F1"),
    ):
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
        f"<tr><td>({c['id']})</td><td>{html.escape(c['text'])}</td>"
        f"<td class='verdict' style='color:{VERDICT_COLOURS[c['verdict']]}'>{c['verdict']}</td>"
        f"<td>{html.escape(_effect_words(c))}</td><td>{html.escape(c['sentence'])}</td></tr>"
        for c in claims
    )
    statistic_rows = "".join(f"<tr><td>({c['id']})</td><td>{html.escape(c['statistic'])}</td></tr>" for c in claims)
    null_control = read_json(files["null_control"])
    counts = pd.read_csv(files["adversarial_counts"])
    fragility = pd.read_csv(files["fragility"])
    flipped = attack["flip_norm"].notna()
    screening_text = (
        f"<p>{screening['n_orbits']} symmetry-distinct arrangements enumerated, "
        f"{screening['n_orbits_labelled']} of them labelled, "
        f"{screening['n_unlabelled']} unlabelled, {screening['n_candidates']} scored on ideal, unrelaxed cells "
        "(<code>outside_training_range</code> counts the interpretable features outside the training range). "
        "Ranked by the ensemble mean P(high), the CGCNN and interpretable families weighted equally. Top 15:</p>"
    )
    next_round = pd.read_csv(files["screening_next_round"])
    next_text = (
        f"<p>Next round: the {len(next_round)} most uncertain candidates (largest spread of P(high) over both ensembles)"
        + (
            f", relaxed with CHGNet ({int(next_round['framework_intact'].sum())} kept an intact framework) and scored again. "
            if len(next_round) and bool(next_round["relaxed"].iloc[0])
            else ". "
        )
        + "POSCAR files: <code>screening/next_round_poscars/</code>.</p>"
    )
    top = ranked.head(15)[
        [
            c
            for c in [
                "rank",
                "candidate",
                "x",
                "multiplicity",
                "cgcnn_mean",
                "cgcnn_std",
                "interpretable_mean",
                "interpretable_std",
                "prob_high_mean",
                "prob_high_std",
                "outside_training_range",
            ]
            if c in ranked
        ]
    ]
    results_dir = str(Path(files["dataset_summary"]).parent.parent)
    body = f"""
<h1>Adversarial CGCNN analysis: run report</h1>
<p class="meta">Generated from the files of this run in <code>{html.escape(results_dir)}</code>.
Every number and verdict below is computed from them.</p>

<h2 id="claims">Summary: the study's claims, tested on this run</h2>
<p>Each claim is <b>supported</b> (significant in the claimed direction), <b>contradicted</b> (significant
in the opposite direction, or shown equivalent to no effect within a stated margin) or <b>not supported</b>
(no significant effect either way; the smallest effect the data could have detected at 80 % power is given,
because absence of evidence is not evidence of absence). Significance level {alpha}; top {TOP_RANK} for (e).</p>
<table class="claims"><tr><th></th><th>claim</th><th>verdict</th><th>effect [interval], p</th><th>in one sentence</th></tr>
{claim_rows}</table>
<p><b>Controls.</b> Adversarial examples at sigma = {null_control["sigma"]:g} Å: {null_control["adversarial_count"]};
flagged by retraining alone (sigma-0 classifiers of seeds {null_control["null_seeds"]} against those of seeds
{null_control["seeds"]}): {null_control["null_count"]}; enrichment {null_control["enrichment"]:.2f}
[{null_control["interval"][0]:.2f}, {null_control["interval"][1]:.2f}], p = {null_control["p_value"]:.2g}
(smallest enrichment detectable at 80 % power: {null_control["detectable_enrichment"]:.2f}).</p>
<details><summary>The statistic behind each verdict</summary><table class="claims">{statistic_rows}</table></details>

<h2 id="dataset">Dataset</h2>
{_dataset_section(files)}

<h2 id="labels">How the labels were made</h2>
{_labels_section(files)}

<h2 id="cgcnn">CGCNN baseline</h2>
{_baseline_section(files)}

<h2 id="perturbation">Perturbation sweep</h2>
{figure("sweep_figure")}

<h2 id="adversarial">Adversarial examples against their null control, and fragility</h2>
<p>Count at every sigma against the null count (the same rule between sigma-0 classifiers of disjoint seeds):</p>
{_table(counts)}
<p>Fragility of each configuration under the baseline models (flip probability over seeded random displacements,
and minus the gradient attack's flipping norm) against each disorder descriptor, composition and baseline margin
held fixed (partial rank correlation, bootstrap interval, Benjamini-Hochberg across descriptors):</p>
{_table(fragility)}
<p>Descriptor distributions of adversarial and normal examples (not controlled for margin or composition):</p>
{figure("adversarial_figure")}
{_table(adversarial)}
<p>Gradient attack on the seed-0 baseline models: {int(flipped.sum())} of {len(attack)} correctly classified
configurations flip within the largest budget; median flipping displacement
{attack.loc[flipped, "flip_norm"].median() if flipped.any() else float("nan"):.3g} Å (L2 over the cell).</p>

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

<h2 id="provenance">What was run</h2>
{_provenance_section(files=files, config=config, workflow_dir=workflow_dir)}
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


def _effect_words(claim: dict) -> str:
    if pd.isna(claim["effect"]):  # nothing to estimate on this data (a constant descriptor)
        return f"not estimable: {claim['statistic']}"
    lo, hi = claim["interval"]
    words = f"{claim['effect']:+.3g} [{lo:+.3g}, {hi:+.3g}], p = {claim['p_value']:.2g}"
    if "detectable_effect" in claim:
        words += f"; detectable: {claim['detectable_effect']:+.3g}"
    return f"{words} ({claim['effect_measure']})"


def run_report(
    *,
    files: dict,
    alpha: float,
    unequal_atoms: str,
    n_boot: int,
    seed: int,
    config: dict,
    workflow_dir: str | Path,
    html_out: str,
    claims_out: str,
) -> list[dict]:
    """claims.json and report.html; `config` is the run's validated config, shown with its provenance."""
    claims = compute_claims(files=files, alpha=alpha, unequal_atoms=unequal_atoms, n_boot=n_boot, seed=seed)
    write_json(claims_out, claims)
    build_report(files=files, claims=claims, alpha=alpha, config=config, workflow_dir=workflow_dir, html_out=html_out)
    return claims
