rule aggregate:
    """Mean ± std over seeds of every run of one experiment; SEA against the best baseline, paired test."""
    input:
        metrics=lambda wildcards: experiment_metrics(wildcards.experiment),
        per_user=lambda wildcards: experiment_per_user(wildcards.experiment),
    output:
        csv=report("results/tables/{experiment}.csv", caption="../report/table.rst", category="Tables"),
        md="results/tables/{experiment}.md",
        tex="results/tables/{experiment}.tex",
    params:
        searec=SEAREC,
        prefix=lambda wildcards: f"results/tables/{wildcards.experiment}",
    conda:
        "../../environment.yml"
    log:
        "logs/aggregate/{experiment}.log",
    shell:
        "{params.searec} aggregate --out {params.prefix} {input.metrics} 2> {log}"
