"""Build one HDF5 shard of CGCNN graphs."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.graphs import build_shard
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
p = snakemake.params  # noqa: F821
n = build_shard(
    snakemake.input.structures,  # noqa: F821
    int(snakemake.wildcards.shard),  # noqa: F821
    p.shard_size,
    p.cutoff,
    p.max_neighbors,
    snakemake.output.graphs,  # noqa: F821
)
log.info("shard %s: %d crystals", snakemake.wildcards.shard, n)  # noqa: F821
