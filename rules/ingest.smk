# DFT label ingestion: labels, structures, quarantine.


rule ingest:
    input:
        source=config["source"]["path"],
    output:
        labels=result("dataset/labels.csv"),
        structures=result("dataset/structures.h5"),
        quarantine=result("dataset/quarantine.csv"),
        summary=result("dataset/summary.json"),
    log:
        result("logs/ingest.log"),
    benchmark:
        result("benchmarks/ingest.tsv")
    conda:
        "../envs/core.yaml"
    params:
        source=config["source"],
        elements=config["elements"],
        parent=config["parent"],
        label=config["label"],
    script:
        "../workflow_scripts/ingest.py"


rule folds:
    input:
        labels=rules.ingest.output.labels,
    output:
        folds=result("dataset/folds.csv"),
    log:
        result("logs/folds.log"),
    conda:
        "../envs/core.yaml"
    params:
        folds=TRAIN["folds"],
        seeds=sorted(set(TRAIN["seeds"]) | set(config["perturb"]["seeds"])),
    script:
        "../workflow_scripts/folds.py"
