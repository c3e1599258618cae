# searec pipeline: synthesise/prepare data -> train each model x seed -> aggregate tables.
# The same DAG as dvc.yaml, from the same params.yaml. Run: snakemake --cores 8

configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        expand("results/tables/{experiment}.{ext}", experiment=["main"], ext=["csv", "md"]),
    default_target: True
