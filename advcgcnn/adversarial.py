"""Adversarial examples (random and gradient-based) and their comparison with normal ones."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Element
from scipy.stats import binomtest, mannwhitneyu

from .descriptors import DESCRIPTOR_UNITS
from .graphs import GraphSet
from .inference import GraphTensors, load_model, predict
from .io import save_figure
from .perturb import CandidatePairs
from .statistics import bh_adjusted, clopper_pearson, detectable_proportion

log = logging.getLogger(__name__)


# --- random-perturbation adversarial examples, with their null control ------


def _wrong_counts(predictions: pd.DataFrame, *, sigma: float, seeds: list[int]) -> pd.DataFrame:
    """Per configuration: seeds present and seeds wrong, for train-mode classifiers at `sigma` of `seeds`."""
    part = predictions[
        (predictions["mode"] == "train") & np.isclose(predictions["sigma"], sigma) & predictions["seed"].isin(seeds)
    ]
    if part.empty:
        raise ValueError(f"no train-mode predictions at sigma={sigma:g} for seeds {seeds}")
    part = part.assign(wrong=(part["pred"] != part["target"]).astype(int))
    return part.groupby("id").agg(target=("target", "first"), n_seeds=("seed", "nunique"), n_wrong=("wrong", "sum"),
                                  prob=("prob_high", "mean"))  # fmt: skip


def find_adversarial(
    *, sweep_predictions: pd.DataFrame, sigma: float, seeds: list[int], null_seeds: list[int], min_wrong: int
) -> pd.DataFrame:
    """Classify every configuration as adversarial, normal or reference_error, and mark the null control.

    The reference for "right" is the train-mode classifier at sigma = 0 of the same seeds
    (same epochs, initialisation and folds as the perturbed ones), so the only difference
    is the perturbation. adversarial: the reference (mean P(high) over `seeds`) is right and
    the classifiers retrained on inputs perturbed at `sigma` are wrong in at least
    `min_wrong` seeds; normal: reference right, never wrong. `null_flip`: the same rule
    between the reference and sigma = 0 classifiers of the disjoint `null_seeds` (retraining
    noise alone).
    """
    if len(null_seeds) != len(seeds) or set(null_seeds) & set(seeds):
        raise ValueError(f"adversarial.null_seeds {null_seeds} must be as many as, and disjoint from, perturb.seeds {seeds}")
    if min_wrong > len(seeds):
        raise ValueError(f"adversarial.min_wrong={min_wrong} exceeds the {len(seeds)} sweep seeds")
    reference = _wrong_counts(sweep_predictions, sigma=0.0, seeds=seeds)
    perturbed = _wrong_counts(sweep_predictions, sigma=sigma, seeds=seeds)
    null = _wrong_counts(sweep_predictions, sigma=0.0, seeds=null_seeds)
    table = pd.DataFrame(
        {
            "target": reference["target"],
            "reference_prob": reference["prob"],
            "reference_correct": (reference["prob"] >= 0.5).astype(int) == reference["target"],
            "n_wrong": perturbed["n_wrong"],
            "perturbed_prob": perturbed["prob"],
            "null_n_wrong": null["n_wrong"],
        }
    ).dropna()
    table["sigma"] = sigma
    right = table["reference_correct"].astype(bool)
    table["group"] = np.select(
        [~right, table["n_wrong"] >= min_wrong, table["n_wrong"] == 0],
        ["reference_error", "adversarial", "normal"],
        "inconsistent",
    )
    table["null_flip"] = right & (table["null_n_wrong"] >= min_wrong)
    table["reference_margin"] = (table["reference_prob"] - 0.5).abs()
    return table.reset_index().astype({"n_wrong": int, "null_n_wrong": int})


def enrichment_over_null(*, adversarial: np.ndarray, null: np.ndarray, alpha: float) -> dict:
    """Perturbation-flagged against retraining-noise-flagged configurations, paired on one reference.

    Only the discordant configurations carry information (McNemar's exact form): `only_perturbed`
    flagged by the perturbation alone, `only_null` by retraining alone. enrichment = their ratio;
    under no perturbation effect each discordant one is either kind with probability 1/2.
    """
    adversarial, null = np.asarray(adversarial, bool), np.asarray(null, bool)
    b, c = int((adversarial & ~null).sum()), int((null & ~adversarial).sum())
    n = b + c
    level = 1 - alpha
    p_value = float(binomtest(b, n, 0.5, alternative="greater").pvalue) if n else float("nan")
    lo, hi = clopper_pearson(b, n, level=level)
    detectable = detectable_proportion(n=n, p0=0.5, alpha=alpha)

    def ratio(p: float) -> float:
        return float("inf") if p >= 1 else p / (1 - p)

    return {
        "adversarial_count": int(adversarial.sum()),
        "null_count": int(null.sum()),
        "only_perturbed": b,
        "only_null": c,
        "enrichment": ratio(b / n) if n else float("nan"),
        "interval": [ratio(lo), ratio(hi)] if n else [float("nan"), float("nan")],
        "p_value": p_value,
        "detectable_enrichment": ratio(detectable) if np.isfinite(detectable) else float("nan"),
    }


def counts_by_sigma(
    *, sweep_predictions: pd.DataFrame, sigmas: list[float], seeds: list[int], null_seeds: list[int], min_wrong: int, alpha: float
) -> pd.DataFrame:
    """The adversarial count at every sigma against the one null count, with enrichment and p-value."""
    rows = []
    for sigma in sigmas:
        table = find_adversarial(
            sweep_predictions=sweep_predictions, sigma=sigma, seeds=seeds, null_seeds=null_seeds, min_wrong=min_wrong
        )
        stats = enrichment_over_null(
            adversarial=(table["group"] == "adversarial").to_numpy(), null=table["null_flip"].to_numpy(), alpha=alpha
        )
        lo, hi = stats.pop("interval")
        rows.append({"sigma": sigma, **stats, "enrichment_low": lo, "enrichment_high": hi})
    return pd.DataFrame(rows)


# --- gradient-based adversarial displacements -----------------------------


def _edge_distances(positions: torch.Tensor, batch_edges: dict) -> torch.Tensor:
    vec = positions[batch_edges["dst"]] + batch_edges["shift"] - positions[batch_edges["src"]]
    return torch.linalg.norm(vec, dim=1)


def gradient_attack(
    *,
    model,
    graphs: GraphSet,
    crystals: np.ndarray,
    targets: np.ndarray,
    epsilons: list[float],
    steps: int = 10,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Smallest L2 displacement (A, whole cell) from `epsilons` that flips each prediction.

    Returns the per-crystal table (flip_norm NaN where no budget flips it), the
    flipping displacement of every attacked atom [n, 3] and those atoms' indices.

    Projected gradient descent on the atom positions of all `crystals` at once,
    through differentiable edge distances on the unperturbed edge topology.
    A flip is only reported after the displaced cell's graph is rebuilt exactly
    and the model, rerun on it, really predicts the other class.
    """
    model.eval()
    tensors = GraphTensors(graphs, torch.device("cpu"))
    batch = tensors.batch(crystals)
    a0 = graphs.atom_offsets[crystals]
    n_atoms = graphs.atom_offsets[crystals + 1] - a0
    atom_idx = np.concatenate([np.arange(s, s + n) for s, n in zip(a0, n_atoms)])
    e_idx = np.concatenate([np.arange(graphs.edge_offsets[c], graphs.edge_offsets[c + 1]) for c in crystals])
    crystal_of_edge = np.repeat(np.arange(len(crystals)), np.diff(graphs.edge_offsets)[crystals])
    lattice = torch.as_tensor(graphs.lattice[crystals][crystal_of_edge])
    image = torch.as_tensor(graphs.edge_image[e_idx].astype(np.float64))
    edges = {
        "src": batch["edge_src"],
        "dst": batch["edge_dst"],
        "shift": torch.einsum("ei,eij->ej", image, lattice),
    }
    base_pos = torch.as_tensor(graphs.positions[atom_idx])
    crystal_of_atom = batch["crystal_of_atom"]
    sign = torch.as_tensor(np.where(targets == 1, 1.0, -1.0))  # margin of the true class

    def margin(delta):
        b = dict(batch, edge_dist=_edge_distances(base_pos + delta, edges).float())
        logits = model(b)
        return sign * (logits[:, 1] - logits[:, 0]).double()

    def per_crystal_norm(x):
        sq = torch.zeros(len(crystals), dtype=x.dtype).index_add_(0, crystal_of_atom, (x**2).sum(1))
        return sq.sqrt()

    candidates = CandidatePairs(graphs, max_shift=max(epsilons))
    flip_norm = np.full(len(crystals), np.nan)
    flip_prob = np.full(len(crystals), np.nan)
    best = np.zeros((len(atom_idx), 3))
    open_ = np.ones(len(crystals), dtype=bool)
    for eps in epsilons:
        delta = torch.zeros_like(base_pos, requires_grad=True)
        for _ in range(steps):
            loss = margin(delta).sum()
            (grad,) = torch.autograd.grad(loss, delta)
            g_norm = per_crystal_norm(grad).clamp_min(1e-12)[crystal_of_atom][:, None]
            with torch.no_grad():
                delta -= (2.5 * eps / steps) * grad / g_norm
                d_norm = per_crystal_norm(delta)[crystal_of_atom][:, None]
                delta *= torch.clamp(eps / d_norm.clamp_min(1e-12), max=1.0)
        # Verify on exactly rebuilt graphs.
        shifted = graphs.positions.copy()
        shifted[atom_idx] = (base_pos + delta).detach().numpy()
        rebuilt, _ = candidates.rebuild(shifted)
        prob = predict(model=model, tensors=GraphTensors(rebuilt, torch.device("cpu")), crystals=crystals, batch_size=512)
        flipped = ((prob >= 0.5).astype(int) != targets) & open_
        norms = per_crystal_norm(delta.detach()).numpy()
        flip_norm[flipped] = norms[flipped]
        flip_prob[flipped] = prob[flipped]
        atom_flipped = flipped[crystal_of_atom.numpy()]
        best[atom_flipped] = delta.detach().numpy()[atom_flipped]
        open_ &= ~flipped
        if not open_.any():
            break
    return pd.DataFrame({"crystal": crystals, "flip_norm": flip_norm, "flipped_prob": flip_prob}), best, atom_idx


def run_gradient_attack(
    *,
    graphs: GraphSet,
    labels: pd.DataFrame,
    folds: np.ndarray,
    models: dict[int, str],
    element_table: np.ndarray,
    epsilons: list[float],
    steps: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attack every configuration with the baseline model that held it out."""
    torch.manual_seed(seed)
    y = labels["label"].to_numpy()
    symbols = _symbols(graphs.atom_z)
    rows, atoms = [], []
    tensors = GraphTensors(graphs, torch.device("cpu"))
    for fold, path in sorted(models.items()):
        model = load_model(path=path, element_table=element_table)
        crystals = np.flatnonzero(folds == fold)
        prob = predict(model=model, tensors=tensors, crystals=crystals, batch_size=512)
        correct = (prob >= 0.5).astype(int) == y[crystals]
        crystals, prob = crystals[correct], prob[correct]  # only correctly classified ones can be flipped
        if crystals.size == 0:
            continue
        result, delta, atom_idx = gradient_attack(
            model=model, graphs=graphs, crystals=crystals, targets=y[crystals], epsilons=epsilons, steps=steps
        )
        result["id"] = [graphs.ids[c] for c in crystals]
        result["fold"] = fold
        result["target"] = y[crystals]
        result["baseline_prob"] = prob
        rows.append(result.drop(columns="crystal"))
        flipped_ids = set(result.loc[result["flip_norm"].notna(), "id"])
        crystal_of = np.repeat([graphs.ids[c] for c in crystals], np.diff(graphs.atom_offsets)[crystals])
        local = atom_idx - np.repeat(graphs.atom_offsets[crystals], np.diff(graphs.atom_offsets)[crystals])
        per_atom = pd.DataFrame(
            {"id": crystal_of, "atom": local, "element": symbols[atom_idx], "displacement": np.linalg.norm(delta, axis=1)}
        )
        atoms.append(per_atom[per_atom["id"].isin(flipped_ids)])
    attack = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    saliency = pd.concat(atoms, ignore_index=True) if atoms else pd.DataFrame(columns=["id", "atom", "element", "displacement"])
    cols = ["id", "fold", "target", "baseline_prob", "flip_norm", "flipped_prob"]
    return attack[cols].sort_values("id").reset_index(drop=True), saliency


def _symbols(atom_z: np.ndarray) -> np.ndarray:
    lookup = {int(z): Element.from_Z(int(z)).symbol for z in np.unique(atom_z)}
    return np.array([lookup[int(z)] for z in atom_z])


def saliency_by_element(saliency: pd.DataFrame) -> pd.DataFrame:
    """Share of the flipping displacement carried by each element, per atom and in total."""
    if saliency.empty:
        return pd.DataFrame(columns=["element", "mean_displacement", "share_of_total", "n_atoms"])
    sq = saliency.assign(sq=saliency["displacement"] ** 2)
    total = sq.groupby("id")["sq"].transform("sum")
    sq["share"] = sq["sq"] / total.where(total > 0, 1.0)
    out = sq.groupby("element").agg(
        mean_displacement=("displacement", "mean"), share_of_total=("share", "sum"), n_atoms=("atom", "size")
    )
    out["share_of_total"] /= sq["id"].nunique()
    return out.reset_index()


# --- comparison -----------------------------------------------------------


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) - P(a < b) over all pairs."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    diff = np.sign(a[:, None] - b[None, :])
    return float(diff.mean())


def compare_groups(*, descriptors: pd.DataFrame, groups: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Adversarial vs normal, per descriptor: medians, Mann-Whitney U, Cliff's delta, BH."""
    data = descriptors.merge(groups[["id", "group"]], on="id")
    adv = data[data["group"] == "adversarial"]
    nor = data[data["group"] == "normal"]
    rows = []
    for name in names:
        a, b = adv[name].dropna().to_numpy(float), nor[name].dropna().to_numpy(float)
        if len(a) and len(b) and np.ptp(np.concatenate([a, b])) > 0:
            u, p = mannwhitneyu(a, b, alternative="two-sided")
        else:
            u, p = np.nan, np.nan
        rows.append(
            {
                "descriptor": name,
                "n_adversarial": len(a),
                "n_normal": len(b),
                "median_adversarial": float(np.median(a)) if len(a) else np.nan,
                "median_normal": float(np.median(b)) if len(b) else np.nan,
                "mean_adversarial": float(np.mean(a)) if len(a) else np.nan,
                "mean_normal": float(np.mean(b)) if len(b) else np.nan,
                "mann_whitney_u": u,
                "p_value": p,
                "cliffs_delta": cliffs_delta(a, b),
            }
        )
    table = pd.DataFrame(rows)
    table["p_adjusted_bh"] = bh_adjusted(table["p_value"].to_numpy())
    return table


def plot_comparison(*, descriptors: pd.DataFrame, groups: pd.DataFrame, names: list[str], figure_out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = descriptors.merge(groups[["id", "group"]], on="id")
    cols = 5
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.8 * rows), constrained_layout=True)
    for ax, name in zip(np.ravel(axes), names):
        series = [data.loc[data["group"] == g, name].dropna() for g in ("normal", "adversarial")]
        ax.boxplot(series, tick_labels=[f"normal\n(n={len(series[0])})", f"adversarial\n(n={len(series[1])})"])
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(DESCRIPTOR_UNITS.get(name, ""), fontsize=8)
    for ax in np.ravel(axes)[len(names) :]:
        ax.axis("off")
    save_figure(fig, figure_out, dpi=110)
