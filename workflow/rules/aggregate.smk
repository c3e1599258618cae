rule aggregate:
    """Mean ± std over seeds of every run of one experiment."""
    input:
        lambda wildcards: experiment_metrics(wildcards.experiment),
    output:
        csv="results/tables/{experiment}.csv",
        md="results/tables/{experiment}.md",
    params:
        searec=SEAREC,
        prefix=lambda wildcards: f"results/tables/{wildcards.experiment}",
    conda:
        "../../environment.yml"
    log:
        "logs/aggregate/{experiment}.log",
    shell:
        "{params.searec} aggregate --out {params.prefix} {input} 2> {log}"
