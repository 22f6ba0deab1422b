"""What scoring needs and training shares: graph tensors, batching, prediction, model files.

No optimiser here: screening and the attacks import this module, not the trainer.
"""

from __future__ import annotations

import os
from dataclasses import asdict

import h5py
import numpy as np
import pandas as pd
import torch

from .graphs import GraphSet, concat, read_graphs
from .io import atomic_path
from .model import CGCNN, ModelSettings


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


class GraphTensors:
    """A GraphSet held as torch tensors on one device, batched by crystal index.

    With `expand` (the model's parameter-free Gaussian expansion) the expanded
    edge features are computed once and reused every epoch, when they fit in
    `cache_bytes`; otherwise the model expands each batch itself.
    """

    def __init__(self, graphs: GraphSet, device: torch.device, *, expand=None, cache_bytes: float = 512e6):
        self.graphs = graphs
        self.device = device
        self.atom_offsets = graphs.atom_offsets.astype(np.int64)
        self.edge_offsets = graphs.edge_offsets.astype(np.int64)

        def as_tensor(array, dtype):
            return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype).to(device)

        self.atom_z = as_tensor(graphs.atom_z, torch.long)
        self.edge_src = as_tensor(graphs.edge_src, torch.long)
        self.edge_dst = as_tensor(graphs.edge_dst, torch.long)
        self.edge_dist = as_tensor(graphs.edge_dist, torch.float32)
        self.edge_fea = None
        if expand is not None and self.edge_dist.numel() * expand.size * 4 <= cache_bytes:
            with torch.no_grad():
                self.edge_fea = expand(self.edge_dist)

    def batch(self, crystals: np.ndarray) -> dict:
        a0 = self.atom_offsets[crystals]
        n_atoms = self.atom_offsets[crystals + 1] - a0
        e0 = self.edge_offsets[crystals]
        n_edges = self.edge_offsets[crystals + 1] - e0
        atom_idx = _ranges(a0, n_atoms)
        edge_idx = _ranges(e0, n_edges)
        new_start = np.cumsum(n_atoms) - n_atoms
        shift = torch.as_tensor(np.repeat(new_start, n_edges), device=self.device)
        edge_idx_t = torch.as_tensor(edge_idx, device=self.device)
        batch = {
            "atom_z": self.atom_z[torch.as_tensor(atom_idx, device=self.device)],
            "edge_src": self.edge_src[edge_idx_t] + shift,
            "edge_dst": self.edge_dst[edge_idx_t] + shift,
            "edge_dist": self.edge_dist[edge_idx_t],
            "crystal_of_atom": torch.as_tensor(np.repeat(np.arange(len(crystals)), n_atoms), device=self.device),
            "n_atoms": torch.as_tensor(n_atoms, device=self.device),
        }
        if self.edge_fea is not None:
            batch["edge_fea"] = self.edge_fea[edge_idx_t]
        return batch


def use_deterministic_algorithms(enabled: bool) -> None:
    """Bitwise-reproducible kernels, or PyTorch's faster defaults.

    On GPUs, CUDA's `index_add_` and cuBLAS otherwise sum in a varying order, so two runs
    of one job differ; the adversarial method compares predictions between runs. cuBLAS
    reads its workspace setting when CUDA starts, so this runs before any CUDA work.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)


def pick_device(rank: int = 0) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", rank % torch.cuda.device_count())
    return torch.device("cpu")


def predict(*, model: CGCNN, tensors: GraphTensors, crystals: np.ndarray, batch_size: int) -> np.ndarray:
    """P(high) per crystal (classification) or the predicted value (regression)."""
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(crystals), batch_size):
            out = model(tensors.batch(crystals[start : start + batch_size]))
            outs.append(torch.softmax(out, dim=1)[:, 1] if model.settings.task == "classification" else out[:, 0])
    return torch.cat(outs).cpu().numpy() if outs else np.zeros(0)


def read_element_table(graph_path: str | os.PathLike) -> np.ndarray:
    """The element feature table stored in a graph shard."""
    with h5py.File(graph_path, "r") as h5:
        return h5["element_table"][()]


def save_model(*, model: CGCNN, path: str | os.PathLike) -> None:
    """Weights and model settings, written atomically."""
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "settings": asdict(model.settings)}, tmp)


def load_model(*, path: str | os.PathLike, element_table: np.ndarray, device: torch.device | None = None) -> CGCNN:
    state = torch.load(path, map_location=device or "cpu", weights_only=False)
    model = CGCNN(element_table, ModelSettings(**state["settings"]))
    model.load_state_dict(state["model"])
    return model.to(device or "cpu").eval()


def load_training_data(*, graph_paths: list[str], labels_csv: str | os.PathLike) -> tuple[GraphSet, pd.DataFrame]:
    """All graph shards, and the labels in the same crystal order."""
    graphs = concat([read_graphs(p) for p in graph_paths])
    labels = pd.read_csv(labels_csv).set_index("id")
    missing = sorted(set(labels.index) - set(graphs.ids))
    if missing:
        raise ValueError(f"{len(missing)} labelled configurations have no graph (e.g. {missing[:3]}): rebuild the graphs")
    return graphs, labels.loc[graphs.ids].reset_index()
