"""Relax (CHGNet) and label (GFN1-xTB) one chunk of the demo dataset."""

from advcgcnn import demo
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol

log = setup(snakemake.log[0])
demo.label_chunk_file(
    plan_path=snakemake.input.plan,
    chunk=int(snakemake.wildcards.chunk),
    spec=ParentSpec.from_config(snakemake.params.parent),
    protocol=Protocol(**snakemake.params.protocol),
    frames_out=snakemake.output.frames,
    records_out=snakemake.output.records,
    log=log.info,
)
