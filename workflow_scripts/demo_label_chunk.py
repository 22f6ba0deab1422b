"""Stage two of one chunk of the demo dataset: the kept cells refined (CHGNet) and labelled (GFN1-xTB)."""

from advcgcnn import demo
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol

log = setup(snakemake.log[0])
demo.label_chunk_file(
    frames_path=snakemake.input.frames,
    records_path=snakemake.input.records,
    spec=ParentSpec.from_config(snakemake.params.parent),
    protocol=Protocol(**snakemake.params.protocol),
    frames_out=snakemake.output.frames,
    records_out=snakemake.output.records,
    log=log.info,
)
