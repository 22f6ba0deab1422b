# Structural disorder descriptors of every ingested configuration.


rule descriptors:
    input:
        structures=rules.ingest.output.structures,
    output:
        descriptors=result("descriptors/descriptors.csv"),
    log:
        result("logs/descriptors.log"),
    benchmark:
        result("benchmarks/descriptors.tsv")
    conda:
        "../envs/core.yaml"
    params:
        parent=config["parent"],
        symprec=config["descriptors"]["symprec"],
    script:
        "../workflow_scripts/descriptors.py"
