# Generator of the embedded demo dataset: `make demo-dataset` (not in the default target; hours of CPU).
# The plans and every finished chunk land in demo_dataset.generation_dir, committed with the repository:
# an interrupted generation continues where it stopped. ancient(): a fresh clone's checkout times
# must not make committed chunks look older than their plan.

DEMO = config["demo_dataset"]
GENERATION = DEMO["generation_dir"]
DEMO_PROTOCOL = DEMO["protocol"] | {"seed": DEMO["seed"]}


rule demo_plan:
    input:
        orbits=ancient(result("configspace/orbits.csv.gz")),
    output:
        plan=f"{GENERATION}/plan.csv",
        stability=f"{GENERATION}/stability_plan.csv",
    log:
        result("logs/demo_dataset/plan.log"),
    conda:
        "../envs/core.yaml"
    params:
        settings=DEMO,
    script:
        "../workflow_scripts/demo_plan.py"


# Stage one: the relaxations and the kept (lowest-energy) cell of every arrangement.
rule demo_relax_chunk:
    input:
        plan=ancient(f"{GENERATION}/plan.csv"),
    output:
        frames=f"{GENERATION}/chunks/{{chunk}}.extxyz.gz",
        records=f"{GENERATION}/chunks/{{chunk}}.csv",
    log:
        result("logs/demo_dataset/chunk_{chunk}.log"),
    benchmark:
        result("benchmarks/demo_dataset/chunk_{chunk}.tsv")
    conda:
        "../envs/demo.yaml"
    threads: 1
    resources:
        runtime=60,
        mem_mb=3000,
    params:
        parent=config["parent"],
        protocol=DEMO_PROTOCOL,
    script:
        "../workflow_scripts/demo_relax_chunk.py"


# Stage two: the kept cell refined to protocol.refine_fmax (and the thermal protocol's MD), then labelled.
rule demo_label_chunk:
    input:
        frames=ancient(f"{GENERATION}/chunks/{{chunk}}.extxyz.gz"),
        records=ancient(f"{GENERATION}/chunks/{{chunk}}.csv"),
    output:
        frames=f"{GENERATION}/labels/{{chunk}}.extxyz.gz",
        records=f"{GENERATION}/labels/{{chunk}}.csv",
    log:
        result("logs/demo_dataset/label_{chunk}.log"),
    benchmark:
        result("benchmarks/demo_dataset/label_{chunk}.tsv")
    conda:
        "../envs/demo.yaml"
    threads: 1
    resources:
        runtime=60,
        mem_mb=3000,
    params:
        parent=config["parent"],
        protocol=DEMO_PROTOCOL,
    script:
        "../workflow_scripts/demo_label_chunk.py"


rule demo_stability_chunk:
    input:
        plan=ancient(f"{GENERATION}/stability_plan.csv"),
    output:
        frames=f"{GENERATION}/stability/{{chunk}}.extxyz.gz",
        records=f"{GENERATION}/stability/{{chunk}}.csv",
    log:
        result("logs/demo_dataset/stability_{chunk}.log"),
    benchmark:
        result("benchmarks/demo_dataset/stability_{chunk}.tsv")
    conda:
        "../envs/demo.yaml"
    threads: 1
    resources:
        runtime=60,
        mem_mb=3000,
    params:
        parent=config["parent"],
        protocol=DEMO_PROTOCOL,
    script:
        "../workflow_scripts/demo_stability_chunk.py"


rule demo_pbe_chunk:
    input:
        frames=ancient(f"{GENERATION}/stability/{{chunk}}.extxyz.gz"),
    output:
        gaps=f"{GENERATION}/pbe/{{chunk}}.csv",
    log:
        result("logs/demo_dataset/pbe_{chunk}.log"),
    benchmark:
        result("benchmarks/demo_dataset/pbe_{chunk}.tsv")
    conda:
        "../envs/core.yaml"
    threads: DEMO["pbe_ranks"]
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        ranks=DEMO["pbe_ranks"],
    script:
        "../workflow_scripts/demo_pbe_chunk.py"


rule make_demo_dataset:
    input:
        frames=expand(rules.demo_label_chunk.output.frames, chunk=label_chunks(settings=DEMO)),
        records=expand(rules.demo_label_chunk.output.records, chunk=label_chunks(settings=DEMO)),
        stability=expand(rules.demo_stability_chunk.output.records, chunk=range(DEMO["stability"]["n_chunks"])),
        pbe=expand(rules.demo_pbe_chunk.output.gaps, chunk=range(DEMO["stability"]["n_chunks"])),
    output:
        dataset=result("demo_dataset/cssnbr3-xix_demo.extxyz.gz"),
        provenance=result("demo_dataset/provenance.json"),
    log:
        result("logs/demo_dataset/assemble.log"),
    conda:
        "../envs/demo.yaml"
    params:
        parent=config["parent"],
        protocol=DEMO_PROTOCOL,
        settings=DEMO,
    script:
        "../workflow_scripts/demo_assemble.py"
