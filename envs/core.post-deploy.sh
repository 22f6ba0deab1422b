#!/usr/bin/env bash
# Snakemake runs this inside a rule environment right after --use-conda creates it (one script,
# linked for every env file): the workflow scripts import the advcgcnn package, so install this
# checkout's copy, editable, from the folder Snakemake runs in (the repository root).
set -euo pipefail
if ! grep -qs '^name = "advcgcnn"' pyproject.toml; then
    echo "envs post-deploy: run Snakemake from the repository root, so that $(pwd) holds advcgcnn's pyproject.toml" >&2
    exit 1
fi
python -m pip install --no-deps --editable .
