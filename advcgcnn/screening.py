"""Score the enumerated arrangements nobody has labelled yet, and pick the next DFT round.

1. plan: match every labelled structure to its orbit (snap to the ideal parent
   lattice, read off the substituent sites, take the smallest image under the
   supercell's symmetry operations); every other orbit is a candidate (up to
   `max_candidates`, sampled per substituent count with a seed).
2. score (in chunks, one job each): build the candidate on the ideal parent
   lattice at the lattice constant fitted to the labelled cells (linear in x),
   score it with every CGCNN baseline model and every interpretable model.
   These cells are not relaxed: their distortion descriptors are those of an
   ideal cell, and `outside_training_range` counts the features that fall
   outside what the interpretable model was trained on.
3. rank: ensemble mean (the two families weighted equally) and spread.
4. next round: the `n_export` most uncertain candidates are relaxed with
   CHGNet exactly as the demo dataset's cells were (`relaxation`,
   `demo_dataset.protocol`; the thermal protocol's MD is left out), checked for
   an intact framework, scored again on the relaxed cell, and written as POSCAR
   files for DFT.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pymatgen.io.vasp import Poscar

from .configspace import arrangement_mask, byte_tables, canonical_mask, mask_hex, orbit_name, read_orbits, site_permutations
from .descriptors import describe
from .graphs import GraphSettings, build_graphs, flatten_structures, read_structures, to_pymatgen
from .inference import GraphTensors, load_model, predict, read_element_table
from .ingest import composition_numbers
from .interpret import ensemble_predict, feature_table, load_boosters
from .io import plain_mode, write_csv
from .labelling import framework_check
from .parent import Parent, ParentSpec, decorate
from .relaxation import Protocol, chgnet_calculator, relax_arrangement

log = logging.getLogger(__name__)
CANDIDATE_COLUMNS = ["candidate", "mask", "n_sub", "x", "multiplicity"]
NEXT_ROUND_COLUMNS = [
    "candidate",
    "x",
    "multiplicity",
    "prob_high_mean_ideal",
    "prob_high_std_ideal",
    "relaxed",
    "framework_intact",
]


def unit_lattice_constant(structure, *, b_site: str) -> float:
    """Cube root of the volume per B cation: the pseudo-cubic lattice constant."""
    n_b = sum(sp.symbol == b_site for sp in structure.species)
    return (structure.volume / n_b) ** (1 / 3)


def plan(
    *,
    orbits_csv: str,
    structures_h5: str,
    labels_csv: str,
    spec: ParentSpec,
    max_candidates: int | None,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Candidates (unlabelled orbits) and a summary with the lattice-constant fit."""
    parent = spec.build()
    tables = byte_tables(site_permutations(parent))
    structures = read_structures(structures_h5)
    labels = pd.read_csv(labels_csv).set_index("id")
    labelled, xs, a_units = set(), [], []
    for i in range(len(structures["ids"])):
        s = to_pymatgen(structures, i)
        mask = arrangement_mask(s, parent=parent, parent_grid=spec.parent_grid)
        if mask is None:
            continue
        labelled.add(canonical_mask(mask, tables=tables))
        xs.append(composition_numbers(s, host=spec.host, substituent=spec.substituent)["x"])
        a_units.append(unit_lattice_constant(s, b_site=spec.b_site))
    summary = {"n_labelled": len(labels), "n_labelled_matched": len(xs), "n_orbits_labelled": len(labelled)}
    orbits = read_orbits(orbits_csv)
    summary["n_orbits"] = int(orbits["mask"].size)
    if not xs:
        log.warning(
            "no labelled configuration is an arrangement of the %d-atom parent cell: nothing to screen", len(parent.structure)
        )
        summary.update(n_unlabelled=0, n_candidates=0, lattice_fit=None)
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), summary
    slope, intercept = np.polyfit(xs, a_units, 1) if len(set(xs)) > 1 else (0.0, float(np.mean(a_units)))
    summary["lattice_fit"] = {"intercept": float(intercept), "slope_per_x": float(slope), "n": len(xs)}
    unlabelled = ~np.isin(orbits["mask"], np.array(sorted(labelled), dtype=np.int64))
    pool = {k: v[unlabelled] for k, v in orbits.items()}
    summary["n_unlabelled"] = int(unlabelled.sum())
    if max_candidates is not None and pool["mask"].size > max_candidates:
        pool = _sample_evenly(pool, max_candidates, seed)
    n_sites = spec.n_sites
    formula_units = spec.n_formula_units
    frame = pd.DataFrame(
        {
            "candidate": [orbit_name(int(m), n_sites=n_sites) for m in pool["mask"]],
            "mask": [mask_hex(int(m), n_sites=n_sites) for m in pool["mask"]],
            "n_sub": pool["n_sub"],
            "x": pool["n_sub"] / formula_units,
            "multiplicity": pool["multiplicity"],
        }
    )
    summary["n_candidates"] = len(frame)
    log.info("screening plan: %s", summary)
    return frame, summary


def _sample_evenly(pool: dict, total: int, seed: int) -> dict:
    """`total` orbits spread as evenly as possible over substituent counts, seeded."""
    rng = np.random.default_rng(seed)
    counts = np.unique(pool["n_sub"])
    sizes = {n: int((pool["n_sub"] == n).sum()) for n in counts}
    quota = {n: 0 for n in counts}
    left = total
    while left > 0:  # water-filling: small classes are taken whole
        open_counts = [n for n in counts if quota[n] < sizes[n]]
        share = max(1, left // len(open_counts))
        for n in open_counts:
            take = min(share, sizes[n] - quota[n], left)
            quota[n] += take
            left -= take
            if left == 0:
                break
    keep = []
    for n in counts:
        idx = np.flatnonzero(pool["n_sub"] == n)
        keep.append(np.sort(rng.choice(idx, size=quota[n], replace=False)))
    keep = np.sort(np.concatenate(keep))
    return {k: v[keep] for k, v in pool.items()}


def candidate_structure(row, *, parent: Parent, lattice_fit: dict):
    a = lattice_fit["intercept"] + lattice_fit["slope_per_x"] * float(row["x"])
    return decorate(parent, int(row["mask"], 16), lattice_constant=a)


PREDICT_BATCH = 512  # crystals per CGCNN forward pass when scoring
SCORE_COLUMNS = [
    "cgcnn_mean",
    "cgcnn_std",
    "interpretable_mean",
    "interpretable_std",
    "prob_high_mean",
    "prob_high_std",
    "outside_training_range",
]


@dataclass(kw_only=True)
class Scorer:
    """Both model families and what they need to score a structure."""

    cgcnn_models: list[str]  # paths, loaded on the first `score` call
    element_table: np.ndarray
    graph_settings: GraphSettings
    boosters: list  # (entry, Booster) pairs, see interpret.load_boosters
    parent: ParentSpec
    symprec: float  # spglib tolerance of the descriptors (config descriptors.symprec)
    training_features: pd.DataFrame

    @functools.cached_property
    def loaded_cgcnn_models(self) -> list:
        # Loaded once: score_candidates calls `score` once per block of candidates.
        return [load_model(path=p, element_table=self.element_table) for p in self.cgcnn_models]

    def score(self, ids: list[str], structures: list) -> pd.DataFrame:
        """P(high) of every structure from each family: mean, std and the pooled spread."""
        if not ids:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        graphs = build_graphs(
            flatten_structures(ids, structures),
            cutoff=self.graph_settings.cutoff,
            max_neighbors=self.graph_settings.max_neighbors,
        )
        tensors = GraphTensors(graphs, torch.device("cpu"))
        crystals = np.arange(len(ids))
        cgcnn = np.array(
            [
                predict(
                    model=model,
                    tensors=tensors,
                    crystals=crystals,
                    batch_size=PREDICT_BATCH,
                )
                for model in self.loaded_cgcnn_models
            ]
        )

        rows = []
        for s in structures:
            d = describe(s, parent=self.parent, symprec=self.symprec)
            d["x"] = composition_numbers(s, host=self.parent.host, substituent=self.parent.substituent)["x"]
            rows.append(d)
        names = self.boosters[0][0]["features"]
        features = pd.DataFrame(rows, index=ids)[names]
        interpretable = ensemble_predict(self.boosters, features=features)
        lo, hi = self.training_features[names].min(), self.training_features[names].max()

        out = pd.DataFrame(index=pd.Index(ids, name="candidate"))
        out["cgcnn_mean"], out["cgcnn_std"] = cgcnn.mean(axis=0), cgcnn.std(axis=0)
        out["interpretable_mean"], out["interpretable_std"] = interpretable.mean(axis=0), interpretable.std(axis=0)
        # Each family counts half, whatever its number of models.
        out["prob_high_mean"] = 0.5 * (out["cgcnn_mean"] + out["interpretable_mean"])
        pooled = np.concatenate([cgcnn, interpretable])
        weights = np.concatenate([np.full(len(cgcnn), 0.5 / len(cgcnn)), np.full(len(interpretable), 0.5 / len(interpretable))])
        out["prob_high_std"] = np.sqrt((weights[:, None] * (pooled - out["prob_high_mean"].to_numpy()) ** 2).sum(axis=0))
        out["outside_training_range"] = ((features < lo) | (features > hi)).sum(axis=1).to_numpy()
        return out


def scorer_from_files(
    *,
    cgcnn_models: list[str],
    graph_path: str,
    graph_settings: GraphSettings,
    interpretable_models: str,
    parent: ParentSpec,
    symprec: float,
    descriptors_csv: str,
    labels_csv: str,
) -> Scorer:
    """A Scorer from the pipeline's files; the training features bound `outside_training_range`."""
    boosters = load_boosters(interpretable_models)
    names = boosters[0][0]["features"]
    labels = pd.read_csv(labels_csv)
    training = feature_table(
        tables=[pd.read_csv(descriptors_csv), labels], names=names, ids=list(labels["id"]), source=descriptors_csv
    )
    return Scorer(
        cgcnn_models=list(cgcnn_models),
        element_table=read_element_table(graph_path),
        graph_settings=graph_settings,
        boosters=boosters,
        parent=parent,
        symprec=symprec,
        training_features=training,
    )


def score_candidates(*, candidates: pd.DataFrame, lattice_fit: dict, scorer: Scorer) -> pd.DataFrame:
    """Candidate rows with the scores of their ideal cells."""
    if candidates.empty:
        return pd.DataFrame(columns=[*CANDIDATE_COLUMNS, *SCORE_COLUMNS])
    parent = scorer.parent.build()
    ids = list(candidates["candidate"])
    started, parts = time.perf_counter(), []
    # Blocks of PREDICT_BATCH keep the prediction batches, and so the scores, of one call.
    for start in range(0, len(ids), PREDICT_BATCH):
        rows = candidates.iloc[start : start + PREDICT_BATCH]
        structures = [candidate_structure(row, parent=parent, lattice_fit=lattice_fit) for _, row in rows.iterrows()]
        parts.append(scorer.score(ids[start : start + PREDICT_BATCH], structures))
        done, elapsed = start + len(rows), time.perf_counter() - started
        log.info(
            "scored %d of %d candidates, %.0f s elapsed, about %.0f s left",
            done, len(ids), elapsed, elapsed / done * (len(ids) - done),
        )  # fmt: skip
    scores = pd.concat(parts)
    return candidates.reset_index(drop=True).join(scores.reset_index(drop=True))


def rank(*, chunks: list[pd.DataFrame], n_export: int, ranked_out: str) -> pd.DataFrame:
    """Rank by ensemble mean P(high); mark the `n_export` most uncertain for the next round."""
    scored = [c for c in chunks if not c.empty]
    scores = pd.concat(scored, ignore_index=True) if scored else chunks[0]
    ranked = scores.sort_values(["prob_high_mean", "candidate"], ascending=[False, True]).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    uncertain = ranked.sort_values(["prob_high_std", "candidate"], ascending=[False, True]).head(n_export)
    ranked["next_round"] = ranked["candidate"].isin(set(uncertain["candidate"]))
    write_csv(ranked_out, ranked)
    return ranked


def next_round(
    *,
    ranked: pd.DataFrame,
    lattice_fit: dict,
    scorer: Scorer,
    protocol: Protocol,
    relax: bool,
    table_out: str,
    poscar_dir: str,
    calculator=None,
) -> pd.DataFrame:
    """Relax (CHGNet) and rescore the candidates marked for the next round; write their POSCAR files.

    Cells whose framework breaks during relaxation are kept in the table with
    `framework_intact` False and no POSCAR.
    """
    chosen = ranked[ranked["next_round"]].sort_values(["prob_high_std", "candidate"], ascending=[False, True])
    spec = scorer.parent
    parent = spec.build()
    if relax and calculator is None and len(chosen):
        torch.set_num_threads(1)
        calculator = chgnet_calculator()  # one CHGNet for every candidate
    rows, structures = [], {}
    for _, row in chosen.iterrows():
        structure = candidate_structure(row, parent=parent, lattice_fit=lattice_fit)
        record = {
            "candidate": row["candidate"],
            "x": row["x"],
            "multiplicity": row["multiplicity"],
            "prob_high_mean_ideal": row["prob_high_mean"],
            "prob_high_std_ideal": row["prob_high_std"],
            "relaxed": relax,
        }
        if relax:
            mask = int(row["mask"], 16)
            # The demo dataset's per-arrangement seeds: a candidate relaxes as it would have there.
            relaxed = relax_arrangement(structure, protocol=protocol, mask=mask, calculator=calculator)
            check = framework_check(
                relaxed.structure,
                reference=structure,
                b_site=spec.b_site,
                halides=spec.mixed_species,
                cutoff=protocol.bond_cutoff,
            )
            structure = relaxed.structure
            record.update(
                relax_protocol=protocol.name,
                kept_run=relaxed.kept,
                relax_converged=relaxed.converged,
                energy_per_atom=relaxed.energy_per_atom,
                gap_gfn1_raw=relaxed.gap,
                framework_intact=check["intact"],
            )
            log.info(
                "%s relaxed (%s, kept %s, %.0f s); framework intact: %s",
                row["candidate"],
                protocol.name,
                relaxed.kept,
                relaxed.seconds,
                check["intact"],
            )
        else:
            record["framework_intact"] = True
        rows.append(record)
        structures[row["candidate"]] = structure
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=NEXT_ROUND_COLUMNS)
    intact = table.loc[table["framework_intact"].astype(bool), "candidate"].tolist() if len(table) else []
    scores = scorer.score(intact, [structures[c] for c in intact])
    if len(table):
        table = table.merge(scores.reset_index(), on="candidate", how="left")
    write_csv(table_out, table)

    # Build the folder beside its final place, then rename: never half-written.
    final = Path(poscar_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        geometry = "relaxed with CHGNet" if relax else "ideal cell, unrelaxed"
        for cid in intact:
            r = table.set_index("candidate").loc[cid]
            comment = f"{cid} x={r['x']:.3f} P(high)={r['prob_high_mean']:.3f} +- {r['prob_high_std']:.3f} ({geometry})"
            Poscar(structures[cid], comment=comment).write_file(tmp / f"{cid}.vasp")
        (tmp / "README.txt").write_text(
            f"{len(intact)} of the most uncertain candidates (largest spread of P(high) over the CGCNN and\n"
            f"interpretable ensembles), {geometry}; scores in ../next_round.csv.\n"
        )
        os.chmod(tmp, plain_mode(directory=True))  # mkdtemp makes it owner-only
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return table
