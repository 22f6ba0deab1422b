# Generator of the embedded demo dataset: `snakemake make_demo_dataset`.
# Not part of the default target: it takes about an hour of CPU (see README).

DEMO = config["demo_dataset"]
DEMO_CHUNKS = range(DEMO["n_chunks"])


rule demo_plan:
    input:
        orbits=rules.configspace.output.orbits,
    output:
        plan=result("demo_dataset/plan.csv"),
    log:
        result("logs/demo_dataset/plan.log"),
    conda:
        "../envs/core.yaml"
    params:
        settings=DEMO,
    script:
        "../workflow_scripts/demo_plan.py"


rule demo_label_chunk:
    input:
        plan=rules.demo_plan.output.plan,
    output:
        frames=result("demo_dataset/chunks/{chunk}.extxyz.gz"),
        records=result("demo_dataset/chunks/{chunk}.csv"),
    log:
        result("logs/demo_dataset/chunk_{chunk}.log"),
    benchmark:
        result("benchmarks/demo_dataset/chunk_{chunk}.tsv")
    conda:
        "../envs/demo.yaml"
    threads: 1
    resources:
        runtime=120,
        mem_mb=3000,
    params:
        parent=config["parent"],
        protocol=DEMO["protocol"] | {"seed": DEMO["seed"]},
    script:
        "../workflow_scripts/demo_label_chunk.py"


rule make_demo_dataset:
    input:
        frames=expand(rules.demo_label_chunk.output.frames, chunk=DEMO_CHUNKS),
        records=expand(rules.demo_label_chunk.output.records, chunk=DEMO_CHUNKS),
    output:
        dataset=result("demo_dataset/cssnbr3-xix_demo.extxyz.gz"),
        provenance=result("demo_dataset/provenance.json"),
    log:
        result("logs/demo_dataset/assemble.log"),
    conda:
        "../envs/demo.yaml"
    params:
        parent=config["parent"],
        protocol=DEMO["protocol"] | {"seed": DEMO["seed"]},
        settings=DEMO,
    script:
        "../workflow_scripts/demo_assemble.py"
