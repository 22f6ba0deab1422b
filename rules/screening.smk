# Screening of enumerated but unlabelled arrangements with both model families.

SCREENING = config["screening"]


rule screening_plan:
    input:
        orbits=rules.configspace.output.orbits,
        structures=rules.ingest.output.structures,
        labels=rules.ingest.output.labels,
    output:
        candidates=result("screening/candidates.csv"),
        summary=result("screening/summary.json"),
    log:
        result("logs/screening/plan.log"),
    conda:
        "../envs/core.yaml"
    params:
        parent=config["parent"],
        max_candidates=SCREENING["max_candidates"],
        seed=SCREENING["seed"],
    script:
        "../workflow_scripts/screening_plan.py"


rule screening_score:
    input:
        unpack(scorer_inputs),
        candidates=rules.screening_plan.output.candidates,
        summary=rules.screening_plan.output.summary,
    output:
        scores=result("screening/chunks/scores_{chunk}.csv"),
    log:
        result("logs/screening/score_{chunk}.log"),
    benchmark:
        result("benchmarks/screening/score_{chunk}.tsv")
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    params:
        n_chunks=SCREENING["n_chunks"],
        parent=config["parent"],
        graphs=config["graphs"],
        symprec=config["descriptors"]["symprec"],
    script:
        "../workflow_scripts/screening_score.py"


rule screening_rank:
    input:
        scores=expand(result("screening/chunks/scores_{chunk}.csv"), chunk=range(SCREENING["n_chunks"])),
    output:
        ranked=result("screening/ranked.csv"),
    log:
        result("logs/screening/rank.log"),
    conda:
        "../envs/core.yaml"
    params:
        n_export=SCREENING["n_export"],
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
    log:
        result("logs/screening/next_round.log"),
    benchmark:
        result("benchmarks/screening/next_round.tsv")
    conda:
        "../envs/demo.yaml"
    threads: TRAIN["threads"]
    params:
        parent=config["parent"],
        graphs=config["graphs"],
        symprec=config["descriptors"]["symprec"],
        relax=SCREENING["relax"],
        protocol=config["demo_dataset"]["protocol"] | {"seed": config["demo_dataset"]["seed"]},
    script:
        "../workflow_scripts/screening_next_round.py"
