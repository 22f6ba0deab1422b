"""Choose which orbits the demo dataset and its stability sample label, and in which chunk."""

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
demo.write_plan(
    orbits_path=snakemake.input.orbits,
    plan_path=snakemake.output.plan,
    stability_path=snakemake.output.stability,
    settings=snakemake.params.settings,
)
