# Symmetry-distinct arrangements of the mixed sublattice of the configured parent supercell.


rule configspace:
    output:
        orbits=result("configspace/orbits.csv.gz"),
    log:
        result("logs/configspace.log"),
    benchmark:
        result("benchmarks/configspace.tsv")
    conda:
        "../envs/core.yaml"
    params:
        parent=config["parent"],
    script:
        "../workflow_scripts/configspace.py"
