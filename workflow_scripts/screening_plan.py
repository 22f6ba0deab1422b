"""Unlabelled orbits to score: match labelled structures to orbits, sample the rest."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.io import write_csv, write_json
from advcgcnn.logs import setup
from advcgcnn.screening import plan

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
candidates, summary = plan(
    sm.input.orbits, sm.input.structures, sm.input.labels, sm.params.parent,
    sm.params.parent_grid, sm.params.max_candidates, sm.params.seed,
)
write_csv(sm.output.candidates, candidates)
write_json(sm.output.summary, summary)
