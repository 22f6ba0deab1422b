"""Build one HDF5 shard of CGCNN graphs."""

from advcgcnn.graphs import GraphSettings, build_shard
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
n = build_shard(
    structures_path=snakemake.input.structures,
    shard=int(snakemake.wildcards.shard),
    shard_size=snakemake.params.shard_size,
    settings=GraphSettings(cutoff=snakemake.params.cutoff, max_neighbors=snakemake.params.max_neighbors),
    out_path=snakemake.output.graphs,
)
log.info("shard %s: %d crystals", snakemake.wildcards.shard, n)
