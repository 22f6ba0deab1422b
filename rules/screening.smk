# Screening of enumerated but unlabelled arrangements with both model families.

SCREENING = config["screening"]
PARENT = {
    "b_site": config["descriptors"]["b_site"],
    "host": config["mixing"]["host"],
    "substituent": config["mixing"]["substituent"],
}
DESCRIPTOR_SETTINGS = PARENT | {
    "symprec": config["descriptors"]["symprec"],
    "parent_grid": config["descriptors"]["parent_grid"],
}


rule screening_plan:
    input:
        orbits=rules.configspace.output.orbits,
        structures=rules.ingest.output.structures,
        labels=rules.ingest.output.labels,
    output:
        candidates=result("screening/candidates.csv"),
        summary=result("screening/summary.json"),
    params:
        parent=PARENT,
        parent_grid=config["descriptors"]["parent_grid"],
        max_candidates=SCREENING["max_candidates"],
        seed=SCREENING["seed"],
    log:
        result("logs/screening/plan.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/screening_plan.py"


rule screening_score:
    input:
        unpack(scorer_inputs),
        candidates=rules.screening_plan.output.candidates,
        summary=rules.screening_plan.output.summary,
    output:
        scores=result("screening/chunks/scores_{chunk}.csv"),
    params:
        n_chunks=SCREENING["n_chunks"],
        parent=PARENT,
        graphs=config["graphs"],
        descriptors=DESCRIPTOR_SETTINGS,
    wildcard_constraints:
        chunk=r"\d+",
    threads: TRAIN["threads"]
    log:
        result("logs/screening/score_{chunk}.log"),
    benchmark:
        result("benchmarks/screening/score_{chunk}.tsv")
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/screening_score.py"


rule screening_rank:
    input:
        scores=expand(result("screening/chunks/scores_{chunk}.csv"), chunk=range(SCREENING["n_chunks"])),
    output:
        ranked=result("screening/ranked.csv"),
    params:
        n_export=SCREENING["n_export"],
    log:
        result("logs/screening/rank.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/screening_rank.py"


rule screening_next_round:
    input:
        unpack(scorer_inputs),
        ranked=rules.screening_rank.output.ranked,
        summary=rules.screening_plan.output.summary,
    output:
        table=result("screening/next_round.csv"),
        poscars=directory(result("screening/next_round_poscars")),
    params:
        parent=PARENT,
        graphs=config["graphs"],
        descriptors=DESCRIPTOR_SETTINGS,
        relax=SCREENING["relax"],
        protocol=config["demo_dataset"]["protocol"] | {"seed": config["demo_dataset"]["seed"]},
    threads: TRAIN["threads"]
    log:
        result("logs/screening/next_round.log"),
    benchmark:
        result("benchmarks/screening/next_round.tsv")
    conda:
        "../envs/demo.yaml"
    script:
        "../workflow_scripts/screening_next_round.py"
