# searec pipeline: download -> preprocess -> images / features -> export-mmrec (or synth) -> graphs
# -> grid search -> train each model x seed -> tables, figures, report.
# The same jobs as dvc.yaml, planned from the same params.yaml by searec.plan. Run: snakemake --cores 8

from searec.params import validate_params


configfile: "params.yaml"


# One validator for both tools (every searec command runs it too): the file, the key and the known keys.
validate_params(config, "params.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/stages.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        PLAN.final_targets(),
    default_target: True
