rule figures:
    """Training curves, ablation bars, sensitivity lines, SEA's generic/unique representations (PNG + PDF)."""
    input:
        params="params.yaml",  # the command reads the experiments and seeds from it
        metrics=experiment_metrics("main"),
        tables=expand("results/tables/{experiment}.csv", experiment=EXPERIMENTS),
        graphs=lambda wildcards: sorted({str(graphs_dir(p.dataset) / "manifest.json")
                                         for p in experiment_runs(config, "main")}),
    output:
        [report(f"results/figures/{name}.png", caption=figure_caption(name), category="Figures")
         for name in figure_names()],
        [f"results/figures/{name}.pdf" for name in figure_names()],
    params:
        searec=SEAREC,
    conda:
        "../../environment.yml"
    log:
        "logs/figures.log",
    shell:
        "{params.searec} figures --out results/figures --params params.yaml 2> {log}"
