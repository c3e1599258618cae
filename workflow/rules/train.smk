rule train_grid:
    """Train one point of a model's grid at the search seed (experiments.main.search)."""
    input:
        data=str(mmrec_dir("{dataset}")),
        graphs=str(graphs_dir("{dataset}") / "manifest.json"),
    output:
        metrics=str(grid_run_dir("{dataset}", "{model}", "{point}", "{seed}") / "metrics.json"),
        model=str(grid_run_dir("{dataset}", "{model}", "{point}", "{seed}") / "model.pt"),
        history=str(grid_run_dir("{dataset}", "{model}", "{point}", "{seed}") / "history.csv"),
        config=str(grid_run_dir("{dataset}", "{model}", "{point}", "{seed}") / "config.yaml"),
        per_user=str(grid_run_dir("{dataset}", "{model}", "{point}", "{seed}") / "test_per_user.parquet"),
    params:
        searec=SEAREC,
        run_dir=lambda wildcards: str(grid_run_dir(wildcards.dataset, wildcards.model, wildcards.point, wildcards.seed)),
        overrides=grid_point_overrides,
        graphs=lambda wildcards: str(graphs_dir(wildcards.dataset)),
    threads: 1
    conda:
        "../../environment.yml"
    log:
        "logs/train_grid/{dataset}/{model}/{point}/seed-{seed}.log",
    shell:
        "{params.searec} train --data {input.data} --model {wildcards.model} --seed {wildcards.seed} "
        "--out {params.run_dir} --threads {threads} --graph-cache {params.graphs} {params.overrides} 2> {log}"


rule select:
    """The grid point with the best validation metric (never the test split)."""
    input:
        params="params.yaml",
        metrics=grid_metrics,
    output:
        str(selection_path("{dataset}", "{model}")),
    params:
        searec=SEAREC,
    conda:
        "../../environment.yml"
    log:
        "logs/select/{dataset}/{model}.log",
    shell:
        "{params.searec} select --dataset {wildcards.dataset} --model {wildcards.model} --params {input.params} "
        "--out {output} 2> {log}"


rule train:
    """Train one model with one seed; early stopping on validation, test evaluated once.

    experiments.main's runs train the grid point `select` chose (--selected); at the search seed
    they reuse that point's grid run.
    """
    input:
        data=str(mmrec_dir("{dataset}")),
        graphs=str(graphs_dir("{dataset}") / "manifest.json"),
        selection=run_selection,
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
        selected=lambda wildcards, input: f"--selected {input.selection}" if input.selection else "",
    threads: 1  # one intra-op thread per run: parallel runs, no OpenMP oversubscription
    conda:
        "../../environment.yml"
    log:
        "logs/train/{dataset}/{model}/{variant}/seed-{seed}.log",
    shell:
        "{params.searec} train --data {input.data} --model {wildcards.model} --seed {wildcards.seed} "
        "--out {params.run_dir} --threads {threads} --graph-cache {params.graphs} {params.overrides} "
        "{params.selected} 2> {log}"
