# Data stages: registry datasets (download -> preprocess -> images -> features -> export-mmrec), synthetic
# folders, and the graphs of every MMRec folder a model trains on.
# Each output a later rule reads is a manifest written last, so a half-finished stage never looks done;
# partial downloads and fetched images survive a failed job (they are not declared outputs).


rule download:
    """Fetch and verify a registered dataset's files (resumes partial files)."""
    output:
        str(raw_dir("{dataset}") / "manifest.json"),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
        entry=lambda wildcards: config["datasets"][wildcards.dataset],
        download=config.get("download"),
    conda:
        "../../environment.yml"
    log:
        "logs/download/{dataset}.log",
    shell:
        "{params.searec} data download {wildcards.dataset} --params params.yaml 2> {log}"


rule preprocess:
    """k-core, dense ids, seeded split and item text: the processed tables."""
    input:
        str(raw_dir("{dataset}") / "manifest.json"),
    output:
        manifest=str(processed_dir("{dataset}") / "manifest.json"),
        interactions=str(processed_dir("{dataset}") / "interactions.parquet"),
        item_table=str(processed_dir("{dataset}") / "items.parquet"),
        user_table=str(processed_dir("{dataset}") / "users.parquet"),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
        preprocess=config.get("preprocess"),
    conda:
        "../../environment.yml"
    log:
        "logs/preprocess/{dataset}.log",
    shell:
        "{params.searec} data preprocess {wildcards.dataset} --params params.yaml 2> {log}"


rule images:
    """Every item's product image, cached by URL, with a manifest of outcomes."""
    input:
        raw=str(raw_dir("{dataset}") / "manifest.json"),
        item_table=str(processed_dir("{dataset}") / "items.parquet"),
    output:
        str(images_dir("{dataset}") / "manifest.json"),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
    conda:
        "../../environment.yml"
    log:
        "logs/images/{dataset}.log",
    shell:
        "{params.searec} data images {wildcards.dataset} --params params.yaml 2> {log}"


rule features_text:
    """Item text through the configured sentence-transformers encoder."""
    input:
        str(processed_dir("{dataset}") / "manifest.json"),
    output:
        matrix=feature_file("{dataset}", "text"),
        manifest=feature_file("{dataset}", "text").replace(".npy", ".json"),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
        settings=config.get("features", {}).get("text"),
    threads: (config.get("features", {}).get("text") or {}).get("threads", 2)
    conda:
        "../../environment.yml"
    log:
        "logs/features_text/{dataset}.log",
    shell:
        "{params.searec} features text {wildcards.dataset} --params params.yaml 2> {log}"


rule features_image:
    """Product images through the configured vision model (or Amazon's CNN features)."""
    input:
        raw=str(raw_dir("{dataset}") / "manifest.json"),
        processed=str(processed_dir("{dataset}") / "manifest.json"),
        images=str(images_dir("{dataset}") / "manifest.json"),
    output:
        matrix=feature_file("{dataset}", "image"),
        manifest=feature_file("{dataset}", "image").replace(".npy", ".json"),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
        settings=config.get("features", {}).get("image"),
    threads: (config.get("features", {}).get("image") or {}).get("threads", 2)
    conda:
        "../../environment.yml"
    log:
        "logs/features_image/{dataset}.log",
    shell:
        "{params.searec} features image {wildcards.dataset} --params params.yaml 2> {log}"


rule export_mmrec:
    """The MMRec folder models train on (and MMRec / the official SEA code can read), with its features."""
    input:
        processed=str(processed_dir("{dataset}") / "manifest.json"),
        features=lambda wildcards: [feature_file(wildcards.dataset, m) for m in FEATURE_MODALITIES],
    output:
        directory(str(mmrec_dir("{dataset}"))),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
        modalities=",".join(FEATURE_MODALITIES),
    conda:
        "../../environment.yml"
    log:
        "logs/export_mmrec/{dataset}.log",
    shell:
        "{params.searec} data export-mmrec {wildcards.dataset} --with-features {params.modalities} "
        "--params params.yaml 2> {log}"


rule graphs:
    """User-item, item-item kNN and user-user graphs of one MMRec folder, keyed by content."""
    input:
        str(mmrec_dir("{dataset}")),
    output:
        str(graphs_dir("{dataset}") / "manifest.json"),
    params:
        searec=SEAREC,
        settings=config.get("graphs"),
    conda:
        "../../environment.yml"
    log:
        "logs/graphs/{dataset}.log",
    shell:
        "{params.searec} graphs {wildcards.dataset} --params params.yaml 2> {log}"


rule synth:
    """A planted synthetic MMRec folder (searec synth)."""
    output:
        directory(str(mmrec_dir("{dataset}"))),
    wildcard_constraints:
        dataset=name_pattern(SYNTHETIC_DATASETS),
    params:
        searec=SEAREC,
        options=synth_arguments,
    conda:
        "../../environment.yml"
    log:
        "logs/synth/{dataset}.log",
    shell:
        "{params.searec} synth --out {output} {params.options} 2> {log}"
