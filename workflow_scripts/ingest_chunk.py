"""Read one chunk of the DFT source: structures, their values, and what could not be read."""

from advcgcnn.ingest import run_chunk
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

setup(snakemake.log[0])
run_chunk(
    source=snakemake.params.source,
    elements=snakemake.params.elements,
    parent=ParentSpec.from_config(snakemake.params.parent, elements=snakemake.params.elements),
    chunk=int(snakemake.wildcards.chunk),
    n_chunks=snakemake.params.n_chunks,
    structures_out=snakemake.output.structures,
    entries_out=snakemake.output.entries,
    rejected_out=snakemake.output.rejected,
)
