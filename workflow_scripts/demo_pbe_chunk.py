"""Gamma-point PBE gaps (GPAW, MPI) of one stability chunk's relaxed cells."""

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
demo.pbe_chunk_file(
    frames_path=snakemake.input.frames,
    out_path=snakemake.output.gaps,
    ranks=int(snakemake.params.ranks),
    log=log.info,
)
