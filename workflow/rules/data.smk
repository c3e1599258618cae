# Data stages: registry datasets (download -> preprocess -> images, export-mmrec) and synthetic folders.
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


rule export_mmrec:
    """The MMRec folder models train on (and MMRec / the official SEA code can read)."""
    input:
        str(processed_dir("{dataset}") / "manifest.json"),
    output:
        directory(str(mmrec_dir("{dataset}"))),
    wildcard_constraints:
        dataset=name_pattern(REGISTRY_DATASETS),
    params:
        searec=SEAREC,
    conda:
        "../../environment.yml"
    log:
        "logs/export_mmrec/{dataset}.log",
    shell:
        "{params.searec} data export-mmrec {wildcards.dataset} --params params.yaml 2> {log}"


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
