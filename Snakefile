# searec pipeline: download -> preprocess -> images / export-mmrec (or synth) -> train each model x seed
# -> aggregate tables.
# The same DAG as dvc.yaml, from the same params.yaml. Run: snakemake --cores 8

from snakemake.utils import validate


configfile: "params.yaml"


validate(config, "workflow/schemas/params.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        expand("results/tables/{experiment}.{ext}", experiment=EXPERIMENTS, ext=["csv", "md", "tex"]),
        expand("results/figures/{name}.{ext}", name=figure_names(), ext=["png", "pdf"]),
        [experiment_images(experiment) for experiment in EXPERIMENTS],
        [str(mmrec_dir(name)) for name in SYNTHETIC_DATASETS],  # dvc repro builds every declared stage too
    default_target: True
