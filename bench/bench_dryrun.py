"""Pipeline overhead: `snakemake -n` wall time on the demo config and on a 10k-configuration config.

The 10k source is an extxyz file of the demo cells repeated with seeded
displacements (written once into a temporary folder, not timed).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import DEMO, REPO

from advcgcnn.io import read_extxyz, write_extxyz
from advcgcnn.perturb import displace

# The Snakefile's localrules block: these run in the main process, never as cluster jobs.
_LOCAL_BLOCK = re.search(r"^localrules:\n((?:    \w+,\n)+)", (REPO / "Snakefile").read_text(), flags=re.M)[1]
LOCAL_RULES = set(re.findall(r"\w+", _LOCAL_BLOCK))


def dry_run(workdir: Path, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    counts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    # What a cluster run submits: each group job once, each other job that is not a local rule.
    top_level = re.findall(r"^rule (\w+):", proc.stdout, flags=re.M)
    counts["submissions"] = len(re.findall(r"Group job \w+", proc.stdout)) + sum(r not in LOCAL_RULES for r in top_level)
    return seconds, counts


def main(n_large: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo_s, demo_counts = dry_run(
            tmp / "demo", ["--configfile", str(REPO / "config.yaml"), "--config", f"source={{path: {DEMO}}}"]
        )
        frames = read_extxyz(DEMO)
        large = []
        for i in range(n_large):
            atoms = frames[i % len(frames)].copy()
            atoms.positions = displace(atoms.positions, sigma=0.05, seed=i)
            atoms.info["id"] = f"syn{i:06d}"
            large.append(atoms)
        write_extxyz(tmp / "large.extxyz.gz", large)
        (tmp / "large.yaml").write_text(yaml.safe_dump({"source": {"path": str(tmp / "large.extxyz.gz")}}))
        large_s, large_counts = dry_run(tmp / "large", ["--configfile", str(REPO / "config.yaml"), str(tmp / "large.yaml")])
        profile = ["--profile", str(REPO / "profiles/slurm"), "--configfile", str(REPO / "config.yaml")]
        _, demo_slurm = dry_run(tmp / "demo", [*profile, "--config", f"source={{path: {DEMO}}}"])
        _, slurm_counts = dry_run(
            tmp / "large",
            ["--profile", str(REPO / "profiles/slurm"), "--configfile", str(REPO / "config.yaml"), str(tmp / "large.yaml")],
        )
    print(f"{'snakemake -n, demo config':<44} {demo_s:>6.1f} s   goal < 5 s    ({demo_counts['total']} jobs)")
    print(
        f"{f'snakemake -n, {n_large} configurations':<44} {large_s:>6.1f} s   goal < 30 s   ({large_counts['total']} jobs, "
        f"{large_counts.get('graph_shard', 0)} graph shards)"
    )
    print(
        f"  SLURM submissions with the slurm profile (job groups, local rules): demo {demo_slurm['submissions']} "
        f"of {demo_slurm['total']} jobs, {n_large} configurations {slurm_counts['submissions']} of {slurm_counts['total']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10000)
    main(parser.parse_args().n)
