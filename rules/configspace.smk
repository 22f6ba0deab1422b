# Symmetry-distinct Br/I arrangements of the 2x2x2 CsSnBr3 supercell.


rule configspace:
    output:
        orbits=result("configspace/orbits.csv.gz"),
    params:
        parent={
            "host": config["mixing"]["host"],
            "substituent": config["mixing"]["substituent"],
        },
    log:
        result("logs/configspace.log"),
    benchmark:
        result("benchmarks/configspace.tsv")
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/configspace.py"
