"""Rank all scored candidates and mark the most uncertain for the next round."""

import pandas as pd

from advcgcnn.logs import setup
from advcgcnn.screening import rank

log = setup(snakemake.log[0])
ranked = rank(
    chunks=[pd.read_csv(p, dtype={"mask": str}) for p in snakemake.input.scores],
    n_export=snakemake.params.n_export,
    ranked_out=snakemake.output.ranked,
)
log.info("%d candidates ranked; top 5:\n%s", len(ranked), ranked.head().to_string())
