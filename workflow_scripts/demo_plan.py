"""Choose which orbits the demo dataset labels, and in which chunk."""

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
settings = snakemake.params.settings
demo.write_plan(
    orbits_path=snakemake.input.orbits,
    plan_path=snakemake.output.plan,
    per_count=settings["orbits_per_count"],
    n_chunks=settings["n_chunks"],
    seed=settings["seed"],
)
