"""Screening (orbit matching, sampling, POSCAR export) and the claims behind the report."""

import json

import numpy as np
import pandas as pd
import pytest

from advcgcnn.configspace import apply_permutations, arrangement_mask, burnside_orbit_counts, byte_tables, canonical_mask
from advcgcnn.labelling import Protocol, rattled
from advcgcnn.parent import ParentSpec, decorate
from advcgcnn.screening import (
    CANDIDATE_COLUMNS,
    SCORE_COLUMNS,
    _sample_evenly,
    next_round,
    rank,
)
from advcgcnn.verdicts import FAILS, HOLDS, UNSURE, compute_claims

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


def write_run_files(root, *, adversarial_p=0.8, rho_train=-0.7):
    """Minimal tables of a run, shaped as the pipeline writes them."""
    rng = np.random.default_rng(0)
    n = 100
    target = np.tile([0, 1], n // 2)
    rows = []
    for seed in (0, 1):
        pred = np.where(rng.random(n) < 0.8, target, 1 - target)
        rows.append(
            pd.DataFrame(
                {
                    "id": range(n),
                    "seed": seed,
                    "fold": np.arange(n) % 5,
                    "target": target,
                    "prob_high": pred * 0.8 + 0.1,
                    "pred": pred,
                }
            )
        )
    files = {
        "baseline_predictions": root / "baseline_predictions.csv",
        "trend": root / "trend.json",
        "adversarial_comparison": root / "comparison.csv",
        "model_comparison": root / "models.csv",
        "importance": root / "importance.csv",
        "descriptors": root / "descriptors.csv",
        "power_density": root / "power.csv",
    }
    pd.concat(rows).to_csv(files["baseline_predictions"], index=False)
    files["trend"].write_text(
        json.dumps(
            {
                "train": {
                    "spearman_rho_accuracy_vs_sigma": rho_train,
                    "p_value": 1e-6,
                    "accuracy_at_smallest_sigma": 0.8,
                    "accuracy_at_largest_sigma": 0.6,
                }
            }
        )
    )
    pd.DataFrame(
        {
            "descriptor": ["tilt", "bond_length_std", "volume_per_atom"],
            "n_adversarial": 23,
            "n_normal": 200,
            "cliffs_delta": [0.4, 0.1, 0.5],
            "p_adjusted_bh": [adversarial_p, 0.9, 0.001],
        }
    ).to_csv(files["adversarial_comparison"], index=False)
    pd.DataFrame(
        {
            "model": ["cgcnn_perturbed", "gbc_general", "interpretable"],
            "accuracy_mean": [0.7, 0.72, 0.83],
            "accuracy_diff_interpretable_minus_model": [0.13, 0.11, np.nan],
            "accuracy_p_corrected_t": [0.01, 0.02, np.nan],
        }
    ).to_csv(files["model_comparison"], index=False)
    pd.DataFrame({"feature": ["tilt", "x", "n_unequal_atoms_arrangement", "n_unequal_atoms"], "rank": [1, 2, 3, 4]}).to_csv(
        files["importance"], index=False
    )
    pd.DataFrame({"id": range(4), "n_unequal_atoms": 40, "n_unequal_atoms_arrangement": [3, 10, 20, 40]}).to_csv(
        files["descriptors"], index=False
    )
    pd.DataFrame(
        {
            "descriptor": ["tilt", "bxb_angle_mean", "volume_per_atom"],
            "disorder_direction": [1, -1, 0],
            "spearman_rho": [0.3, -0.3, 0.5],
            "ci_low": [0.2, -0.4, 0.4],
            "ci_high": [0.4, -0.2, 0.6],
            "partial_rho_fixed_x": [0.2, -0.2, 0.1],
            "verdict": ["more disorder, more power density"] * 2 + ["not a disorder measure"],
        }
    ).to_csv(files["power_density"], index=False)
    return files


def test_claims_follow_the_run_files(tmp_path):
    files = write_run_files(tmp_path)
    verdicts = {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}
    assert verdicts == {"a": HOLDS, "b": HOLDS, "c": FAILS, "d": HOLDS, "e": HOLDS, "f": HOLDS}

    # Change one table, and only that claim's verdict changes.
    write_run_files(tmp_path, adversarial_p=0.001)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["c"] == HOLDS
    write_run_files(tmp_path, rho_train=0.1)
    changed = {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}
    assert changed["b"] == FAILS and changed["c"] == FAILS

    table = pd.read_csv(files["adversarial_comparison"]).assign(n_adversarial=3)
    table.to_csv(files["adversarial_comparison"], index=False)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["c"] == UNSURE

    models = pd.read_csv(files["model_comparison"])
    models.loc[0, "accuracy_p_corrected_t"] = 0.3
    models.to_csv(files["model_comparison"], index=False)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["d"] == UNSURE
    models.loc[1, "accuracy_diff_interpretable_minus_model"] = -0.01
    models.to_csv(files["model_comparison"], index=False)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["d"] == FAILS

    importance = pd.read_csv(files["importance"]).assign(rank=[1, 2, 4, 3])
    importance.to_csv(files["importance"], index=False)
    claim_e = [c for c in compute_claims(files=files, alpha=ALPHA) if c["claim"] == "e"][0]
    assert claim_e["verdict"] == FAILS  # the varying version is 4th; the constant one does not count
    assert "constant on this data" in claim_e["statistic"]


def test_claim_f_reads_the_numbers_not_the_words(tmp_path):
    """Rewording (or garbling) the power-density table's prose leaves claim (f) unchanged."""
    files = write_run_files(tmp_path)
    before = {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["f"]
    power = pd.read_csv(files["power_density"]).assign(verdict="reworded by somebody")
    power.to_csv(files["power_density"], index=False)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["f"] == before == HOLDS
    # Intervals that straddle 0 in the disorder direction: no relation, whatever the words say.
    power.assign(ci_low=[-0.1, -0.4, 0.4], ci_high=[0.4, 0.1, 0.6]).to_csv(files["power_density"], index=False)
    assert {c["claim"]: c["verdict"] for c in compute_claims(files=files, alpha=ALPHA)}["f"] == UNSURE
