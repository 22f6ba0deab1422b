"""End-to-end against a real single-node SLURM cluster on localhost (cluster/local-slurm.sh).

Needs root (it starts munge, slurmctld and slurmd); skipped with the reason
otherwise. Runs in CI, which runs as root. Slow: marked `slurm` and `slow`.
"""

from __future__ import annotations

import os
import re
import subprocess

import pandas as pd
import pytest
import yaml

from advcgcnn.io import read_extxyz, write_extxyz

from .conftest import DEMO_DATASET, REPO
from .test_workflow import SNAKEMAKE, install_slurm_profile

pytestmark = [pytest.mark.slow, pytest.mark.slurm]
SCRIPT = REPO / "cluster" / "local-slurm.sh"


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root to start munge/slurmctld/slurmd")
    was_running = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True).stdout
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.skip(f"could not start a local SLURM cluster: {started.stderr.strip()[-500:]}")
    yield
    if "slurmctld running" not in was_running:  # leave a cluster we did not start alone
        subprocess.run(["bash", str(SCRIPT), "stop"], timeout=120)


def test_profile_runs_training_as_gpu_jobs(cluster, tmp_path):
    frames = read_extxyz(DEMO_DATASET)[::12]
    write_extxyz(tmp_path / "tiny.extxyz.gz", frames)
    config = {
        "source": {"kind": "extxyz", "path": str(tmp_path / "tiny.extxyz.gz")},
        "graphs": {"shard_size": 12},
        "train": {"folds": 2, "seeds": [0], "epochs": 2, "checkpoint_every": 1},
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(config))
    install_slurm_profile(tmp_path / "home")  # the README's set-up: the named profile `slurm`
    cmd = [
        "timeout",
        "-k",
        "20",
        "900",
        *SNAKEMAKE,
        "results/cgcnn/baseline/summary.json",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--profile",
        "slurm",
        "--configfile",
        str(REPO / "config.yaml"),
        str(tmp_path / "test.yaml"),
    ]
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "home"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=960, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert (tmp_path / "results/cgcnn/baseline/summary.json").exists()

    # Every stage went through SLURM: job ids per rule from Snakemake's submission lines.
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/(rule_\w+|group_\w+)/", output)
    rules = {name for _, name in submitted}
    assert "rule_ingest" in rules and "rule_aggregate_baseline" not in rules, rules  # aggregation is a localrule
    assert any(name.startswith("group_graphs") for name in rules), rules
    # Both (fold, seed) trainings went out as one bundled job, on one GPU.
    train_ids = [jid for jid, name in submitted if name.startswith("group_training")]
    assert len(train_ids) == 1, submitted
    # The training jobs asked SLURM for a GPU and got one (the fake GRES).
    for jid in train_ids:
        info = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True).stdout
        assert re.search(r"gres[:/]gpu[:=]1", info), info  # TresPerJob=gres:gpu:1
    for log in (tmp_path / "results/logs/cgcnn/baseline").glob("seed0_fold*.log"):
        text = log.read_text()
        assert "CUDA_VISIBLE_DEVICES=0" in text and re.search(r"SLURM_JOB_ID=\d+", text), text[-2000:]
    assert len(pd.read_csv(tmp_path / "results/cgcnn/baseline/predictions.csv")) == len(frames)
