rule synth:
    """A planted synthetic MMRec folder (searec synth)."""
    output:
        directory(str(mmrec_dir("{dataset}"))),
    params:
        searec=SEAREC,
        options=synth_arguments,
    conda:
        "../../environment.yml"
    log:
        "logs/synth/{dataset}.log",
    shell:
        "{params.searec} synth --out {output} {params.options} 2> {log}"
