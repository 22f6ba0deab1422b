"""Screening (orbit matching, sampling, POSCAR export) and the claims behind the report."""

import json

import numpy as np
import pandas as pd
import pytest

from advcgcnn.configspace import apply_permutations, arrangement_mask, burnside_orbit_counts, byte_tables, canonical_mask
from advcgcnn.labelling import rattled
from advcgcnn.parent import ParentSpec, decorate
from advcgcnn.relaxation import Protocol
from advcgcnn.screening import (
    CANDIDATE_COLUMNS,
    SCORE_COLUMNS,
    _sample_evenly,
    next_round,
    rank,
)
from advcgcnn.verdicts import CONTRADICTED, NOT_SUPPORTED, SUPPORTED, compute_claims

ALPHA = 0.05


@pytest.fixture(scope="module")
def parent_and_tables(supercell_symmetry):
    parent, perms = supercell_symmetry
    return parent, perms, byte_tables(perms)


def test_a_relaxed_looking_cell_maps_back_to_its_orbit(parent_and_tables):
    parent, _, tables = parent_and_tables
    mask = 0b1000_0000_0101_0000_0000_0011
    cell = rattled(decorate(parent, mask, lattice_constant=6.0), amplitude=0.15, seed=1)
    # Atom order and periodic images must not matter.
    order = np.random.default_rng(0).permutation(len(cell))
    shuffled = type(cell)(cell.lattice, [cell.species[i] for i in order], cell.frac_coords[order] + 1.0)
    assert arrangement_mask(shuffled, parent=parent, parent_grid=4) == mask
    # Every image of the arrangement has the same canonical mask: the orbit's representative.
    images = np.unique(apply_permutations(mask, tables=tables))
    assert len({canonical_mask(int(image), tables=tables) for image in images}) == 1
    assert canonical_mask(mask, tables=tables) == images.min()
    smaller = cell.copy()
    smaller.remove_sites([0])
    assert arrangement_mask(smaller, parent=parent, parent_grid=4) is None


def test_a_strongly_off_centred_tin_still_maps_back_to_its_orbit(parent_and_tables):
    """Symmetric relaxations can move a Sn by more than half the grid spacing (1.5 A): nearest sites still place it."""
    parent, _, _ = parent_and_tables
    mask = 0b1111_0000_1111_0000_1111_0000
    cell = decorate(parent, mask, lattice_constant=6.0)
    tin = next(i for i, sp in enumerate(cell.species) if sp.symbol == "Sn")
    cell.translate_sites([tin], [1.8, 0, 0], frac_coords=False)
    assert arrangement_mask(cell, parent=parent, parent_grid=4) == mask
    # A halide moved next to a neighbouring halide site: two halides claim one site, not an arrangement.
    halide = int(parent.sublattice[0])
    cell.translate_sites([halide], [1.7, 1.7, 0], frac_coords=False)
    assert arrangement_mask(cell, parent=parent, parent_grid=4) is None


def test_canonical_masks_count_the_orbits(parent_and_tables):
    from itertools import combinations

    _, perms, tables = parent_and_tables
    # Every two-substituent arrangement: as many canonical masks as Burnside's orbit count (7).
    seen = {canonical_mask((1 << a) | (1 << b), tables=tables) for a, b in combinations(range(24), 2)}
    assert len(seen) == burnside_orbit_counts(perms)[2] == 7


def test_sampling_spreads_over_counts_and_is_seeded():
    pool = {"mask": np.arange(100), "n_sub": np.repeat([0, 1, 2, 3], [1, 9, 40, 50]), "multiplicity": np.ones(100)}
    sample = _sample_evenly(pool, 30, seed=4)
    counts = np.bincount(sample["n_sub"], minlength=4)
    assert counts.sum() == 30 and counts[0] == 1 and counts[1] == 9 and abs(counts[2] - counts[3]) <= 1
    assert np.array_equal(_sample_evenly(pool, 30, seed=4)["mask"], sample["mask"])


class StubScorer:
    """Scores by composition only: enough to test selection and writing, not the models."""

    parent = ParentSpec()

    def score(self, ids, structures):
        x = np.array([s.composition["I"] / 24 for s in structures])
        return pd.DataFrame(
            {"prob_high_mean": x, "prob_high_std": 0.1, "outside_training_range": 0}, index=pd.Index(ids, name="candidate")
        )


def test_rank_orders_by_mean_and_the_next_round_takes_the_most_uncertain(tmp_path):
    from pymatgen.io.vasp import Poscar

    scores = pd.DataFrame(
        {
            "candidate": ["orbit_000001", "orbit_000003", "orbit_000007"],
            "mask": ["000001", "000003", "000007"],
            "n_sub": [1, 2, 3],
            "x": [0.125, 0.25, 0.375],
            "multiplicity": [24, 12, 8],
            "prob_high_mean": [0.2, 0.9, 0.5],
            "prob_high_std": [0.05, 0.1, 0.4],
        }
    )
    ranked = rank(chunks=[scores.iloc[:2], scores.iloc[2:]], n_export=2, ranked_out=tmp_path / "ranked.csv")
    assert ranked["candidate"].tolist() == ["orbit_000003", "orbit_000007", "orbit_000001"]
    assert ranked["next_round"].tolist() == [True, True, False]

    out = tmp_path / "poscars"
    fit = {"intercept": 5.8, "slope_per_x": 0.14}
    table = next_round(
        ranked=ranked,
        lattice_fit=fit,
        scorer=StubScorer(),
        protocol=Protocol(),
        relax=False,
        table_out=tmp_path / "next.csv",
        poscar_dir=out,
    )
    assert table["candidate"].tolist() == ["orbit_000007", "orbit_000003"]  # most uncertain first
    assert table["prob_high_mean"].tolist() == [3 / 24, 2 / 24] and (table["prob_high_mean_ideal"] == [0.5, 0.9]).all()
    assert sorted(p.name for p in out.glob("*.vasp")) == ["orbit_000003.vasp", "orbit_000007.vasp"]
    structure = Poscar.from_file(out / "orbit_000007.vasp").structure
    assert structure.composition["I"] == 3 and structure.lattice.a == pytest.approx(2 * (5.8 + 0.14 * 0.375))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_nothing_to_screen_still_gives_readable_tables(tmp_path):
    """A dataset that is no arrangement of the parent cell: empty, but well-formed, outputs."""
    empty = pd.DataFrame(columns=[*CANDIDATE_COLUMNS, *SCORE_COLUMNS])
    ranked = rank(chunks=[empty, empty], n_export=5, ranked_out=tmp_path / "ranked.csv")
    assert len(ranked) == 0 and "next_round" in pd.read_csv(tmp_path / "ranked.csv").columns
    next_round(
        ranked=ranked,
        lattice_fit=None,
        scorer=StubScorer(),
        protocol=Protocol(),
        relax=True,
        table_out=tmp_path / "next.csv",
        poscar_dir=tmp_path / "poscars",
    )
    table = pd.read_csv(tmp_path / "next.csv")
    assert len(table) == 0 and "framework_intact" in table.columns
    assert [p.name for p in (tmp_path / "poscars").iterdir()] == ["README.txt"]


# --- claims -------------------------------------------------------------------------


def write_run_files(root, *, rho_train=-0.7, fragility_p=0.001):
    """Minimal tables of a run, shaped as the pipeline writes them."""
    rng = np.random.default_rng(0)
    n = 100
    target = np.tile([0, 1], n // 2)
    rows = []
    for seed in (0, 1):
        pred = np.where(rng.random(n) < 0.8, target, 1 - target)
        rows.append(pd.DataFrame({"id": range(n), "seed": seed, "fold": np.arange(n) % 5, "target": target,
                                  "prob_high": pred * 0.8 + 0.1, "pred": pred}))  # fmt: skip
    files = {
        "baseline_predictions": root / "baseline_predictions.csv",
        "trend": root / "trend.json",
        "null_control": root / "null_control.json",
        "fragility": root / "fragility.csv",
        "model_comparison": root / "models.csv",
        "run_ranks": root / "run_ranks.csv",
        "power_density": root / "power.csv",
    }
    pd.concat(rows).to_csv(files["baseline_predictions"], index=False)
    files["trend"].write_text(json.dumps({"train": {"spearman_rho_accuracy_vs_sigma": rho_train, "p_value": 1e-6,
                                                    "n_points": 50, "accuracy_at_smallest_sigma": 0.8,
                                                    "accuracy_at_largest_sigma": 0.6}}))  # fmt: skip
    files["null_control"].write_text(json.dumps({"adversarial_count": 22, "null_count": 16, "only_perturbed": 20,
                                                 "only_null": 14, "enrichment": 1.43, "interval": [0.7, 3.0],
                                                 "p_value": 0.2, "detectable_enrichment": 3.2}))  # fmt: skip
    pd.DataFrame(
        {
            "measure": ["flip_probability"] * 2,
            "descriptor": ["tilt", "bond_angle_variance"],
            "n": 100,
            "partial_rho": [0.4, 0.05],
            "ci_low": [0.2, -0.15],
            "ci_high": [0.6, 0.25],
            "p_value": [fragility_p / 2, 0.6],
            "p_adjusted_bh": [fragility_p, 0.6],
            "detectable_rho": 0.28,
        }
    ).to_csv(files["fragility"], index=False)
    pd.DataFrame(
        {
            "model": ["cgcnn_perturbed", "gbc_general", "interpretable"],
            "accuracy_mean": [0.7, 0.72, 0.83],
            "accuracy_diff_interpretable_minus_model": [0.13, 0.11, np.nan],
            "accuracy_p_corrected_t": [0.01, 0.02, np.nan],
            "accuracy_se_corrected": [0.04, 0.04, np.nan],
            "n_paired_runs": [10, 10, np.nan],
        }
    ).to_csv(files["model_comparison"], index=False)
    ranks = []
    for run in range(10):
        order = (
            ["n_unequal_atoms_arrangement", "tilt", "x", "n_unequal_atoms"]
            if run % 2
            else ["tilt", "n_unequal_atoms_arrangement", "x", "n_unequal_atoms"]
        )
        ranks += [{"seed": run // 5, "fold": run % 5, "feature": f, "rank": k + 1} for k, f in enumerate(order)]
    pd.DataFrame(ranks).to_csv(files["run_ranks"], index=False)
    pd.DataFrame(
        {
            "descriptor": ["tilt", "bond_angle_variance", "volume_per_atom"],
            "n": 100,
            "disorder_direction": [1, 1, 0],
            "spearman_rho": [0.3, 0.1, 0.5],
            "median_gap": 1.2,
            "signed_partial_rho": [0.3, 0.05, np.nan],
            "signed_ci_low": [0.15, -0.15, np.nan],
            "signed_ci_high": [0.45, 0.25, np.nan],
            "tost_low": [0.17, -0.12, np.nan],
            "tost_high": [0.43, 0.22, np.nan],
            "p_adjusted_bh": [0.004, 0.6, np.nan],
            "signed_rho_gap_fixed_x": [0.5, 0.0, np.nan],
        }
    ).to_csv(files["power_density"], index=False)
    return files


def verdicts_of(files, **settings) -> dict:
    claims = compute_claims(files=files, alpha=ALPHA, unequal_atoms="n_unequal_atoms_arrangement", n_boot=500, seed=0, **settings)
    return {c["id"]: c for c in claims}


def test_claims_follow_the_run_files(tmp_path):
    files = write_run_files(tmp_path)
    claims = verdicts_of(files)
    assert {k: c["verdict"] for k, c in claims.items()} == dict.fromkeys("abcdef", SUPPORTED)
    for claim in claims.values():  # the fields a reader needs, on a named scale
        assert {"effect", "effect_measure", "interval", "p_value", "sentence"} <= set(claim)
        assert "detectable_effect" not in claim  # only where nothing was found
    assert claims["c"]["null_count"] == 16 and claims["c"]["adversarial_count"] == 22
    assert claims["c"]["enrichment"] == pytest.approx(1.43) and not claims["c"]["adversarial_set_distinguishable"]
    assert claims["e"]["effect"] == pytest.approx(1.5)  # mean rank over the ten runs

    # Change one table, and only that claim's verdict changes.
    write_run_files(tmp_path, rho_train=0.1)
    changed = verdicts_of(files)
    assert changed["b"]["verdict"] == CONTRADICTED and changed["c"]["verdict"] == SUPPORTED
    write_run_files(tmp_path, fragility_p=0.5)
    claim_c = verdicts_of(files)["c"]
    assert claim_c["verdict"] == NOT_SUPPORTED and claim_c["detectable_effect"] == pytest.approx(0.28)

    models = pd.read_csv(files["model_comparison"])
    models.loc[0, "accuracy_p_corrected_t"] = 0.3
    models.to_csv(files["model_comparison"], index=False)
    assert verdicts_of(files)["d"]["verdict"] == NOT_SUPPORTED
    models.loc[1, ["accuracy_diff_interpretable_minus_model", "accuracy_p_corrected_t"]] = [-0.1, 0.01]
    models.to_csv(files["model_comparison"], index=False)
    assert verdicts_of(files)["d"]["verdict"] == CONTRADICTED

    ranks = pd.read_csv(files["run_ranks"])
    ranks["rank"] = np.where(
        ranks["feature"] == "n_unequal_atoms_arrangement", 4, np.where(ranks["feature"] == "n_unequal_atoms", 1, ranks["rank"])
    )
    ranks.to_csv(files["run_ranks"], index=False)
    assert verdicts_of(files)["e"]["verdict"] == CONTRADICTED  # 4th in every run


def test_claim_f_reads_intervals_at_fixed_composition(tmp_path):
    files = write_run_files(tmp_path)
    power = pd.read_csv(files["power_density"])
    power.assign(p_adjusted_bh=[0.3, 0.6, np.nan]).to_csv(files["power_density"], index=False)
    claim = verdicts_of(files)["f"]
    assert claim["verdict"] == NOT_SUPPORTED and claim["detectable_effect"] > 0
    assert "below the SQ optimum" in claim["sentence"]
    # Both effects shown to lie within +-0.1: contradicted by equivalence.
    power.assign(p_adjusted_bh=[0.3, 0.6, np.nan], tost_low=[-0.05, -0.08, np.nan], tost_high=[0.06, 0.09, np.nan]).to_csv(
        files["power_density"], index=False
    )
    assert verdicts_of(files)["f"]["verdict"] == CONTRADICTED
