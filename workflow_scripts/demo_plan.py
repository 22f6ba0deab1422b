"""Choose which orbits the demo dataset labels, and in which chunk."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
settings = snakemake.params.settings  # noqa: F821
demo.write_plan(
    snakemake.input.orbits,  # noqa: F821
    snakemake.output.plan,  # noqa: F821
    per_count=settings["orbits_per_count"],
    n_chunks=settings["n_chunks"],
    seed=settings["seed"],
)
