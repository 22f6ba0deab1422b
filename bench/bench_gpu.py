"""Models trained per GPU-hour: one at a time, packed (train.models_per_job) and with CUDA graphs.

The baseline's ten (seed, fold) models of the demo data (5 folds x 2 seeds), trained
for --epochs each: one after another (today's jobs, in one process so CUDA starts
once), all ten packed into one computation, and both again with CUDA graphs
(train.cuda_graphs). The CPU figure is one model on all of the machine's cores,
measured in the same run. Skipped (exit 0) where no CUDA device is present.
About two minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch
from bench_train import demo_graphs
from common import report

from advcgcnn.features import element_feature_table
from advcgcnn.folds import fold_assignment, stratified_folds
from advcgcnn.inference import use_deterministic_algorithms
from advcgcnn.model import ModelSettings
from advcgcnn.packed import Member, train_packed
from advcgcnn.training import TrainSettings, train_one


def timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main(epochs: int) -> None:
    if not torch.cuda.is_available():
        print("skipped: no CUDA device (the GPU figures are measured on a GPU node)")
        return
    use_deterministic_algorithms(False)  # speed, as a GPU site would run with train.deterministic false
    graphs, labels = demo_graphs()
    folds = stratified_folds(labels=labels, n_folds=5, seeds=[0, 1])
    members = [
        Member(seed=seed, fold=fold, train_mask=fold_assignment(folds=folds, seed=seed, ids=graphs.ids) != fold)
        for seed in (0, 1)
        for fold in range(5)
    ]
    table = element_feature_table()
    base = TrainSettings(
        epochs=epochs,
        batch_size=32,
        learning_rate=3e-3,
        model=ModelSettings(atom_fea_len=32, n_conv=3, h_fea_len=64, cutoff=8.0, gaussian_step=0.2),
    )
    gpu = torch.device("cuda")
    print(
        f"{torch.cuda.get_device_name(0)}; {len(members)} models x {epochs} epochs of {int(members[0].train_mask.sum())} graphs"
    )

    def one_at_a_time(settings):
        for m in members:
            train_one(graphs=graphs, labels=labels, train_mask=m.train_mask, seed=m.seed, fold=m.fold,
                      settings=settings, element_table=table, device=gpu)  # fmt: skip

    def packed(settings):
        train_packed(graphs=graphs, labels=labels, members=members, settings=settings, element_table=table, device=gpu)

    graphs_settings = dataclasses.replace(base, cuda_graphs=True)
    one_at_a_time(dataclasses.replace(base, epochs=1))  # CUDA start-up and kernel caches, not timed
    seconds = {
        "one at a time": timed(lambda: one_at_a_time(base)),
        "packed": timed(lambda: packed(base)),
        "one at a time, CUDA graphs": timed(lambda: one_at_a_time(graphs_settings)),
        "packed, CUDA graphs": timed(lambda: packed(graphs_settings)),
    }
    cpu_settings = dataclasses.replace(base, threads=os.cpu_count() or 1)
    m = members[0]
    cpu = timed(lambda: train_one(graphs=graphs, labels=labels, train_mask=m.train_mask, seed=m.seed, fold=m.fold,
                                  settings=cpu_settings, element_table=table, device=torch.device("cpu")))  # fmt: skip
    per_hour = {name: len(members) * 3600 / s for name, s in seconds.items()}
    cpu_per_hour = 3600 / cpu
    for name, value in per_hour.items():
        report(f"models per GPU-hour, {name}", value, per_hour["one at a time"], "/h", "packed >> one at a time")
    report("models per hour, CPU (all cores)", cpu_per_hour, per_hour["one at a time"], "/h", "(reference)")
    print("seconds:", {k: round(v, 1) for k, v in seconds.items()}, f"CPU one model: {cpu:.1f} s on {os.cpu_count()} cores")
    print(f"packed/one-at-a-time: {per_hour['packed'] / per_hour['one at a time']:.2f}x; ", end="")
    print(f"CUDA graphs on one at a time: {per_hour['one at a time, CUDA graphs'] / per_hour['one at a time']:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    main(parser.parse_args().epochs)
