rule train:
    """Train one model with one seed; early stopping on validation, test evaluated once."""
    input:
        data=str(mmrec_dir("{dataset}")),
        graphs=str(graphs_dir("{dataset}") / "manifest.json"),
    output:
        metrics=str(run_dir("{dataset}", "{model}", "{seed}", "{variant}") / "metrics.json"),
        model=str(run_dir("{dataset}", "{model}", "{seed}", "{variant}") / "model.pt"),
        history=str(run_dir("{dataset}", "{model}", "{seed}", "{variant}") / "history.csv"),
        config=str(run_dir("{dataset}", "{model}", "{seed}", "{variant}") / "config.yaml"),
        per_user=str(run_dir("{dataset}", "{model}", "{seed}", "{variant}") / "test_per_user.parquet"),
    params:
        searec=SEAREC,
        run_dir=lambda wildcards: str(run_dir(wildcards.dataset, wildcards.model, wildcards.seed, wildcards.variant)),
        overrides=training_overrides,
        graphs=lambda wildcards: str(graphs_dir(wildcards.dataset)),
    threads: 1  # one intra-op thread per run: parallel runs, no OpenMP oversubscription
    conda:
        "../../environment.yml"
    log:
        "logs/train/{dataset}/{model}/{variant}/seed-{seed}.log",
    shell:
        "{params.searec} train --data {input.data} --model {wildcards.model} --seed {wildcards.seed} "
        "--out {params.run_dir} --threads {threads} --graph-cache {params.graphs} {params.overrides} 2> {log}"
