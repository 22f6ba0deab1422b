"""Stage one of one chunk of the demo dataset: CHGNet relaxations and the kept cell of every arrangement."""

from advcgcnn import demo
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol

log = setup(snakemake.log[0])
demo.relax_chunk_file(
    plan_path=snakemake.input.plan,
    chunk=int(snakemake.wildcards.chunk),
    spec=ParentSpec.from_config(snakemake.params.parent),
    protocol=Protocol(**snakemake.params.protocol),
    frames_out=snakemake.output.frames,
    records_out=snakemake.output.records,
    log=log.info,
)
