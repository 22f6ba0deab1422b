"""Data loading vs computing: share of a training epoch spent reading graphs from HDF5.

Loading = reading every graph shard of the demo data and moving it into the
tensors the trainer batches from (once per job); computing = one training
epoch on the same data.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_train import demo_graphs

from advcgcnn.features import element_feature_table
from advcgcnn.graphs import GraphSettings, build_shard, concat, read_graphs, to_pymatgen, write_structures
from advcgcnn.inference import GraphTensors
from advcgcnn.training import TrainSettings, train_one


def main() -> None:
    torch.set_num_threads(1)
    graphs, labels = demo_graphs()
    with tempfile.TemporaryDirectory() as tmp:
        flat = {
            "ids": graphs.ids,
            "lattice": graphs.lattice,
            "atom_offsets": graphs.atom_offsets,
            "atom_z": graphs.atom_z,
            "positions": graphs.positions,
        }
        structures = [to_pymatgen(flat, i) for i in range(len(graphs))]
        write_structures(Path(tmp) / "s.h5", ids=graphs.ids, structures=structures)
        paths = []
        for shard in range(-(-len(graphs) // 128)):
            paths.append(Path(tmp) / f"shard_{shard}.h5")
            build_shard(
                structures_path=Path(tmp) / "s.h5",
                shard=shard,
                shard_size=128,
                settings=GraphSettings(cutoff=8.0, max_neighbors=12),
                out_path=paths[-1],
            )
        t0 = time.perf_counter()
        loaded = concat([read_graphs(p) for p in paths])
        GraphTensors(loaded, torch.device("cpu"))
        t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_one(
        graphs=loaded,
        labels=labels.set_index("id").loc[loaded.ids].reset_index(),
        train_mask=np.ones(len(loaded), bool),
        seed=0,
        fold=0,
        settings=TrainSettings(epochs=1),
        element_table=element_feature_table(),
    )
    t_epoch = time.perf_counter() - t0
    print(f"loading {len(loaded)} graphs from {len(paths)} HDF5 shards: {t_load:.3f} s; one training epoch: {t_epoch:.2f} s")
    print(f"{'data loading share of an epoch':<44} {100 * t_load / (t_load + t_epoch):.2f} %   goal < 10 %")


if __name__ == "__main__":
    main()
