"""Rank all scored candidates and mark the most uncertain for the next round."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.logs import setup
from advcgcnn.screening import rank

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
chunks = [pd.read_csv(p, dtype={"mask": str}) for p in sm.input.scores]
ranked = rank(chunks, sm.params.n_export, sm.output.ranked)
log.info("%d candidates ranked; top 5:\n%s", len(ranked), ranked.head().to_string())
