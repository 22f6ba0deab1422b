# CGCNN crystal graphs, one HDF5 shard per job. Featurisation settings are
# params, so changing them rebuilds the shards; training settings do not.


rule graph_shard:
    input:
        structures=rules.ingest.output.structures,
    output:
        graphs=result("graphs/shard_{shard}.h5"),
    log:
        result("logs/graphs/shard_{shard}.log"),
    benchmark:
        result("benchmarks/graphs/shard_{shard}.tsv")
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../envs/core.yaml"
    params:
        shard_size=config["graphs"]["shard_size"],
        cutoff=config["graphs"]["cutoff"],
        max_neighbors=config["graphs"]["max_neighbors"],
    script:
        "../workflow_scripts/graph_shard.py"
