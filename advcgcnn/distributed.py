"""Data-parallel training of one CGCNN over several processes (torchrun).

    torchrun --standalone --nproc_per_node=4 -m advcgcnn.distributed \\
        --graphs results/graphs/shard_*.h5 --labels results/dataset/labels.csv \\
        --folds results/dataset/folds.csv --fold 0 --seed 0 --epochs 30 --out results/cgcnn/ddp/seed0/fold0

On GPUs each rank takes one device (NCCL); on CPUs the gloo backend is used.
Inside one SLURM job: `srun --ntasks=1 --gpus=4 torchrun --standalone --nproc_per_node=4 ...`
(see README, "Running on a cluster").
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import torch
import torch.distributed as dist

from .folds import fold_assignment
from .inference import load_training_data, read_element_table, save_model, use_deterministic_algorithms
from .io import write_json
from .model import ModelSettings
from .training import TrainSettings, train_one


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", nargs="+", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--folds", required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--cutoff", type=float, default=8.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    use_deterministic_algorithms(True)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        graphs, labels = load_training_data(graph_paths=args.graphs, labels_csv=args.labels)
        folds = fold_assignment(folds=args.folds, seed=args.seed, ids=graphs.ids)
        settings = TrainSettings(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            threads=max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))),
            model=dataclasses.replace(ModelSettings(), cutoff=args.cutoff),
        )
        checkpoint = os.path.join(args.out, "checkpoint.pt")
        model, info = train_one(
            graphs=graphs,
            labels=labels,
            train_mask=folds != args.fold,
            seed=args.seed,
            fold=args.fold,
            settings=settings,
            element_table=read_element_table(args.graphs[0]),
            checkpoint_path=checkpoint,
        )
        if rank == 0:
            save_model(model=model, path=os.path.join(args.out, "model.pt"))
            write_json(
                os.path.join(args.out, "train_loss.json"),
                {"world_size": world, "backend": backend, "train_loss": info["train_loss"]},
            )
        dist.barrier()  # no rank tears the group down while another still uses it
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
