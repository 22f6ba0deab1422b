# DFT label ingestion: chunk jobs read, check and map configurations to orbits in parallel;
# one light job merges them, finds duplicates and labels. Outputs: labels, structures, quarantine, summary, folds.


rule ingest_chunk:
    input:
        source=config["source"]["path"],
    output:
        structures=result("dataset/chunks/chunk_{chunk}.h5"),
        entries=result("dataset/chunks/chunk_{chunk}.entries.csv"),
        rejected=result("dataset/chunks/chunk_{chunk}.rejected.csv"),
    log:
        result("logs/ingest/chunk_{chunk}.log"),
    benchmark:
        result("benchmarks/ingest/chunk_{chunk}.tsv")
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../envs/core.yaml"
    params:
        source=config["source"],
        elements=config["elements"],
        parent=config["parent"],
        n_chunks=N_INGEST_CHUNKS,
    script:
        "../workflow_scripts/ingest_chunk.py"


rule ingest:
    input:
        unpack(ingest_chunks),
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
