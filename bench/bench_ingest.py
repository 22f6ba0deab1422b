"""Ingestion at cluster scale: a synthetic VASP tree of 10,000 runs read by 1 and by N parallel chunk jobs.

The tree holds copies of the four real fixture runs (`../shared/fixtures/vasp/`),
each copy with its structure moved (all positions shifted by one seeded vector: the
same crystal, another origin) or its conduction states shifted (another gap), one
run per configuration folder. Copies are written by concatenating gzip members
(compressed once, only the changed blocks per copy), so the tree costs seconds, not
minutes. The chunk jobs are `advcgcnn.ingest.run_chunk`, the merge `run_ingest`,
as the Snakemake rules run them; the parallel jobs are processes, as on one node.

Checks as it goes: every copy's gap is the fixture's plus its shift, and every copy
is found as a duplicate of its fixture (a moved origin is the same structure).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from common import REPO

from advcgcnn.ingest import n_chunks, run_chunk, run_ingest
from advcgcnn.parent import ParentSpec

FIXTURES = REPO.parent / "shared" / "fixtures" / "vasp"
TEMPLATES = ("Cs2SnBr6", "Cs2SnI6_dos", "Cs2SnI6_hse_bands_split1", "Cs2SnI6_optics")
DYNAMIC = re.compile(r'(<varray name="positions" >.*?</varray>|<eigenvalues>.*?</eigenvalues>)', re.S)
ELEMENTS = ["Cs", "Sn", "Br", "I"]
LABEL = {"metric": "sq_efficiency", "rule": "top_fraction", "threshold": 0.3, "top_fraction": 0.5}


def shift_positions(block: str, shift: np.ndarray) -> str:
    def move(match):
        xyz = (np.array([float(v) for v in match[1].split()]) + shift) % 1.0
        return "<v>" + " ".join(f"{v:16.8f}" for v in xyz) + " </v>"

    return re.sub(r"<v>([^<]*)</v>", move, block)


def shift_conduction(block: str, delta: float) -> str:
    def move(match):
        energy, occupation = float(match[1]), float(match[2])
        if occupation < 0.5:
            energy += delta
        return f"<r> {energy:10.4f} {occupation:8.4f} </r>"

    return re.sub(r"<r>\s*(\S+)\s+(\S+)\s*</r>", move, block)


class Template:
    """A fixture split into fixed parts (compressed once) and the blocks a copy changes."""

    def __init__(self, name: str):
        text = gzip.open(FIXTURES / name / "vasprun.xml.gz", "rt").read()
        pieces = DYNAMIC.split(text)
        self.name = name
        self.fixed = [gzip.compress(p.encode(), compresslevel=1) for p in pieces[0::2]]
        self.blocks = pieces[1::2]

    def write(self, path: Path, *, shift: np.ndarray | None, delta: float) -> None:
        out = [self.fixed[0]]
        for block, fixed in zip(self.blocks, self.fixed[1:], strict=True):
            if block.startswith("<varray") and shift is not None:
                block = shift_positions(block, shift)
            elif block.startswith("<eigenvalues>") and delta:
                block = shift_conduction(block, delta)
            out.append(gzip.compress(block.encode(), compresslevel=1))
            out.append(fixed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(out))


def build_tree(root: Path, n_runs: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    templates = [Template(name) for name in TEMPLATES]
    rows = []
    for i in range(n_runs):
        template = templates[i % len(templates)]
        moved = (i // len(templates)) % 2 == 0  # each fixture gets both kinds of copy
        delta = 0.0 if moved else float(rng.uniform(0.05, 0.5))
        cid = f"run{i:05d}"
        template.write(root / cid / "vasprun.xml.gz", shift=rng.uniform(0, 1, 3) if moved else None, delta=delta)
        rows.append({"id": cid, "template": template.name, "delta": delta})
    return pd.DataFrame(rows)


def ingest_tree(root: Path, out: Path, *, jobs: int, chunk_size: int) -> tuple[float, float, list[dict]]:
    source = {"kind": "vasp", "path": str(root), "chunk_size": chunk_size}
    count = n_chunks(source)
    chunks = [
        {"structures": out / f"c{k}.h5", "entries": out / f"c{k}.entries.csv", "rejected": out / f"c{k}.rejected.csv"}
        for k in range(count)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(
                run_chunk,
                source=source,
                elements=ELEMENTS,
                parent=ParentSpec(),
                chunk=k,
                n_chunks=count,
                structures_out=c["structures"],
                entries_out=c["entries"],
                rejected_out=c["rejected"],
            )
            for k, c in enumerate(chunks)
        ]
        for future in futures:
            future.result()
    read_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_ingest(
        chunks=chunks,
        source=source,
        elements=ELEMENTS,
        parent=ParentSpec(),
        label=LABEL,
        labels_out=out / "labels.csv",
        structures_out=out / "structures.h5",
        quarantine_out=out / "quarantine.csv",
        summary_out=out / "summary.json",
    )
    return read_seconds, time.perf_counter() - t0, chunks


def check(tree: pd.DataFrame, out: Path, chunks: list[dict]) -> str:
    entries = pd.concat([pd.read_csv(c["entries"]) for c in chunks]).set_index("id")
    base = {name: entries.loc[tree.loc[(tree.template == name) & (tree.delta == 0), "id"], "band_gap"] for name in TEMPLATES}
    for name, gaps in base.items():
        assert np.ptp(gaps) < 1e-9, f"{name}: moved copies gave different gaps"
    expected = tree.template.map({k: v.iloc[0] for k, v in base.items()}) + tree.delta
    error = np.abs(entries.loc[tree.id, "band_gap"].to_numpy() - expected.to_numpy()).max()
    assert error < 2e-4, f"a copy's gap is off by {error:.2g} eV"
    labels = pd.read_csv(out / "labels.csv")
    quarantine = pd.read_csv(out / "quarantine.csv")
    assert len(labels) + len(quarantine) == len(tree), "a configuration was lost"
    duplicates = quarantine.reason.str.startswith("duplicate").sum()
    return f"{len(labels)} distinct structures kept, {duplicates} copies found as duplicates, largest gap error {error:.1g} eV"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2, help="parallel chunk jobs to compare with one")
    parser.add_argument("--chunk-size", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not FIXTURES.is_dir():
        raise SystemExit(f"{FIXTURES}: the shared VASP fixtures are needed (../shared beside the checkout)")
    logging.getLogger("advcgcnn").setLevel(logging.ERROR)  # thousands of expected duplicate warnings
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        t0 = time.perf_counter()
        tree = build_tree(work / "tree", args.runs, args.seed)
        size = sum(p.stat().st_size for p in (work / "tree").rglob("*.gz")) / 1e9
        print(f"tree: {args.runs} runs, {size:.1f} GB gzip, written in {time.perf_counter() - t0:.0f} s (not timed below)")
        results = {}
        for jobs in sorted({1, args.jobs}):
            out = work / f"out{jobs}"
            read_s, merge_s, chunks = ingest_tree(work / "tree", out, jobs=jobs, chunk_size=args.chunk_size)
            results[jobs] = read_s
            print(
                f"{jobs} job(s): chunks read in {read_s:.0f} s ({args.runs / read_s / jobs:.1f} runs/s per core), "
                f"merge in {merge_s:.1f} s; {check(tree, out, chunks)}"
            )
            shutil.rmtree(out)
        one, many = results[1], results[max(results)]
        name = f"ingestion, {args.runs} vasprun files"
        print(
            f"{name:<44} ours {args.runs / many:>8.1f} runs/s with {max(results)} jobs"
            f"   baseline {args.runs / one:>8.1f} runs/s in one job   speed-up {one / many:>5.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
