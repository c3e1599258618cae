# Every rule of the pipeline: one per stage of the run plan, or one per job where a stage's jobs list
# their outputs (training batches). Output patterns are the plan's templates with its fields as
# wildcards; each job's inputs, command and tracked parameter values come from the plan, so a changed value, input or source file reruns exactly the jobs that use it. Resources,
# priorities (the longest training first) and job groups (for a cluster) come from searec.resources.


for planned in PLAN.stages:
    for rule_name, rule_job in planned.rules():

        rule:
            name: rule_name
            input:
                lambda wildcards, stage=planned, job=rule_job: planned_job(stage, job, wildcards).snakemake_inputs,
            output:
                stage_outputs(planned, rule_job),
            params:
                command=lambda wildcards, stage=planned, job=rule_job: f"{SEAREC} {planned_job(stage, job, wildcards).command}",
                tracked=lambda wildcards, stage=planned, job=rule_job: tracked_params(planned_job(stage, job, wildcards).params),
            threads: planned.threads
            priority: job_priority(planned, rule_job)
            resources:
                **job_resources(planned, rule_job),
            group:
                stage_group(planned, rule_job)
            wildcard_constraints:
                **constraints(planned),
            conda:
                "../../environment.yml"
            log:
                planned.log if rule_job is None else planned.log.format(**rule_job.fields),
            shell:
                "{params.command} > {log} 2>&1"
