"""torchrun data parallelism on the CPU (gloo): 2 processes follow the 1-process loss curve."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from advcgcnn.folds import stratified_folds
from advcgcnn.graphs import write_graphs

from .helpers import decorated_frames
from .test_model_train import graphs_from_frames


@pytest.mark.slow
def test_two_gloo_processes_match_one(tmp_path):
    frames = decorated_frames(64, seed=11)
    graphs = graphs_from_frames(tmp_path, frames, cutoff=8.0)
    write_graphs(tmp_path / "g.h5", graphs)
    n_i = np.array([f.get_chemical_symbols().count("I") for f in frames])
    labels = pd.DataFrame({"id": graphs.ids, "label": (n_i >= 12).astype(int)})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    stratified_folds(labels=labels, n_folds=4, seeds=[0]).to_csv(tmp_path / "folds.csv", index=False)
    curves = {}
    for nproc in (1, 2):
        out = tmp_path / f"n{nproc}"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "advcgcnn.distributed",
            "--graphs",
            str(tmp_path / "g.h5"),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--folds",
            str(tmp_path / "folds.csv"),
            "--epochs",
            "8",
            "--batch-size",
            "32",
            "--out",
            str(out),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads((out / "train_loss.json").read_text())
        assert result["world_size"] == nproc and result["backend"] == "gloo"
        assert (out / "model.pt").exists()
        curves[nproc] = np.array(result["train_loss"])
    # Same global batches and averaged gradients; on CPUs BatchNorm statistics are
    # per rank (16 crystals each), the only difference from one process.
    print("1 process:", curves[1].round(4), "2 processes:", curves[2].round(4))
    assert curves[2][-1] < 0.5 * curves[2][0]
    np.testing.assert_allclose(curves[2][:2], curves[1][:2], rtol=0.05)
    assert np.abs(curves[2] - curves[1]).max() < 0.1
