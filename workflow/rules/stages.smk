# Every rule of the pipeline: one per stage of the run plan. Output patterns are the plan's templates
# with its fields as wildcards; each job's inputs, command and tracked parameter values come from the
# plan, so a changed value, input or source file reruns exactly the jobs that use it. Resources and
# job groups (for a cluster) come from searec.resources.


for planned in PLAN.stages:

    rule:
        name: planned.name
        input:
            lambda wildcards, stage=planned: stage.job_for(wildcards).snakemake_inputs,
        output:
            stage_outputs(planned),
        params:
            command=lambda wildcards, stage=planned: f"{SEAREC} {stage.job_for(wildcards).command}",
            tracked=lambda wildcards, stage=planned: tracked_params(stage.job_for(wildcards).params),
        threads: planned.threads
        resources:
            **job_resources(planned),
        group:
            stage_group(planned)
        wildcard_constraints:
            **constraints(planned),
        conda:
            "../../environment.yml"
        log:
            planned.log,
        shell:
            "{params.command} > {log} 2>&1"

