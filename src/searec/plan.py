"""The run plan: every job the pipeline runs, computed once, for Snakemake and for DVC.

A job is one ``searec`` command with its inputs and outputs. Jobs come in stages (``download``,
``train_grid``, ``aggregate``, ...): one Snakemake rule and one DVC stage each. A stage is
written once, as templates over named fields (``data/mmrec/{dataset}``); each job of the stage
fills the fields. From that one description:

* Snakemake (``workflow/rules/stages.smk``) makes a rule per stage: output patterns are the
  templates with the fields as wildcards, inputs and the command come from the job; where the
  jobs list their outputs (a training batch: ``searec train-batch`` of one model's grid, main or
  variant runs, see :attr:`Plan.training_batches`), a rule per job (:meth:`Stage.rules`);
* ``searec generate`` writes ``dvc.yaml``: a ``foreach`` stage over the jobs' fields, or one
  stage per job where the jobs' dependency lists differ (the grid search's ``select``, the
  tables); see :mod:`searec.generated`.

Every path comes from :mod:`searec.layout` (and the feature file name from the code that
writes it); every training command carries the run's settings as explicit ``--set`` options
(:func:`searec.settings.configured_settings`), so both tools issue the same command line for the
same run, and notice a changed value. Each job also depends on the source files it runs
(:mod:`searec.codedeps`): a changed model file reruns that model's runs and what aggregates them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from searec.codedeps import model_source, stage_sources, training_sources
from searec.experiments import PROPOSED_MODEL, experiment_runs
from searec.features.common import configured_encoder, feature_path, feature_settings
from searec.layout import (
    RUN_CONFIG,
    RUN_HISTORY,
    RUN_METRICS,
    RUN_MODEL,
    RUN_OUTPUTS,
    RUN_PER_USER_TEST,
    graphs_dir,
    grid_run_dir,
    images_dir,
    mmrec_dir,
    processed_dir,
    raw_dir,
    run_dir,
    selection_path,
    table_prefix,
)
from searec.search import planned_grid_runs, search_seed
from searec.sections import section
from searec.settings import configured_settings

PARAMS_FILE = "params.yaml"
FEATURE_MODALITIES = ("text", "image")
TABLE_FORMATS = ("csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")
FIGURES_DIR = Path("results/figures")
REPRESENTATION_MODEL = PROPOSED_MODEL
"""The model whose generic/unique item representations ``searec figures`` draws (SEA's Figure 5)."""
SYNTH_OPTIONS = ("users", "items", "image_dim", "text_dim", "seed")
"""The ``synthetic.<name>`` fields, passed to ``searec synth`` as its options of the same names."""
TRAINING_STAGES = ("train_grid", "train", "train_variant", "search")
"""The stages whose jobs are ``searec train`` runs (one model, dataset and seed each, or a batch of them)."""
TRAINING_THREADS = 1
"""One intra-op thread per training run: parallel runs never oversubscribe the CPUs, and CPU
results are bitwise equal only for equal thread counts."""
SELECT_COMMAND = f"select --dataset {{dataset}} --model {{model}} --params {PARAMS_FILE} --out {{selection}}"
"""``searec select`` of one model's grid search on one dataset, into its selection file (``{selection}``)."""
SELECT_PARAMS = ("grids", "experiments.main.search", "training.valid_metric")
"""The params.yaml entries a selection depends on."""
FIGURE_THREADS = 1
"""The figures stage's threads, passed to the command too: SEA's representations (its forward pass) are
bitwise equal only for equal thread counts, and Snakemake sets ``OMP_NUM_THREADS`` to a rule's threads
where DVC leaves it unset (all cores), so without the flag the two tools drew different PDFs."""


@dataclass(frozen=True)
class Output:
    """An output template and how DVC tracks it (``kind``: outs, metrics or plots)."""

    path: str
    cache: bool = True
    persist: bool = False
    kind: str = "outs"
    plot_x: str | None = None
    plot_y: str | None = None


@dataclass(frozen=True)
class Job:
    """One command of a stage, with the fields its templates are filled with."""

    key: str
    fields: Mapping[str, str]
    command: str
    """The command line after the ``searec`` executable (each tool adds its own way to call it)."""
    dvc_deps: tuple[str, ...]
    snakemake_inputs: tuple[str, ...]
    outputs: tuple[Output, ...]
    snakemake_outputs: tuple[str, ...]
    params: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    """A kind of job, written once as templates: ``{field}`` is filled per job.

    ``dvc_deps`` and ``snakemake_inputs`` differ where DVC tracks a folder and Snakemake the
    manifest written last inside it; a name in ``listed`` is a field whose value is a list
    (the grid runs one ``select`` reads, the runs of a table), different per job.
    """

    name: str
    doc: str
    command: str
    dvc_deps: tuple[str, ...]
    outputs: tuple[Output, ...]
    items: Mapping[str, Mapping[str, Any]]
    snakemake_inputs: tuple[str, ...] | None = None
    snakemake_outputs: tuple[str, ...] | None = None
    params: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    threads: int = 1
    log: str = ""
    directory_output: bool = False
    """Snakemake's outputs are folders (``directory()``), not files in them."""

    def dvc_name(self, key: str) -> str:
        """DVC's name of a job: ``stage@key`` in a foreach stage; ``stage-key`` where the jobs read lists of
        files of different lengths and are written one stage each (a lone job: the stage's name)."""
        if not self.listed:
            return f"{self.name}@{key}"
        return f"{self.name}-{key}" if key else self.name

    @cached_property
    def listed(self) -> set[str]:
        return {name for item in self.items.values() for name, value in item.items() if isinstance(value, list)}

    def _fill(self, templates: Sequence[str], fields: Mapping[str, Any]) -> tuple[str, ...]:
        filled: list[str] = []
        for template in templates:
            name = template.strip("{}")
            if template == f"{{{name}}}" and isinstance(fields.get(name), list):
                filled += fields[name]
            else:
                filled.append(template.format(**fields))
        return tuple(filled)

    @cached_property
    def jobs(self) -> dict[str, Job]:
        jobs = {}
        for key, fields in self.items.items():
            outputs = tuple(Output(path, o.cache, o.persist, o.kind, o.plot_x, o.plot_y)
                            for o in self.outputs for path in self._fill([o.path], fields))
            jobs[key] = Job(
                key=key, fields=fields, command=self.command.format(**fields),
                dvc_deps=self._fill(self.dvc_deps, fields) + self.code,
                snakemake_inputs=self._fill(self.snakemake_inputs or self.dvc_deps, fields) + self.code,
                outputs=outputs,
                snakemake_outputs=self._fill(self.snakemake_outputs or [o.path for o in self.outputs], fields),
                params=self._fill(self.params, fields))
        return jobs

    def wildcards(self) -> list[str]:
        """The fields in the Snakemake output patterns (the rule's wildcards)."""
        return self._wildcard_names

    @cached_property
    def _wildcard_names(self) -> list[str]:
        import string

        patterns = self.snakemake_outputs or [o.path for o in self.outputs]
        names = [name for pattern in patterns for _, name, _, _ in string.Formatter().parse(pattern) if name]
        return [name for name in dict.fromkeys(names) if name not in self.listed]

    @cached_property
    def _jobs_by_wildcards(self) -> dict[tuple[str, ...], Job]:
        names = self.wildcards()
        return {tuple(str(job.fields[name]) for name in names): job for job in self.jobs.values()}

    def rules(self) -> list[tuple[str, Job | None]]:
        """``(name, job)`` of each Snakemake rule the stage makes. A stage of output patterns makes one, whose
        job is None (found from the wildcards); where a stage's jobs list their outputs (training batches),
        each job makes its own, named ``<stage>_<key>`` with the key's other characters as ``_``."""
        if self.wildcards() or len(self.jobs) == 1:
            return [(self.name, None if self.wildcards() else next(iter(self.jobs.values())))]
        rules = {f"{self.name}_{re.sub(r'[^0-9A-Za-z]+', '_', key)}": job for key, job in self.jobs.items()}
        if len(rules) != len(self.jobs):
            raise ValueError(f"{self.name}: two job keys make one rule name: {sorted(self.jobs)}")
        return list(rules.items())

    def job_for(self, wildcards: Mapping[str, str]) -> Job:
        """The job whose fields match a Snakemake job's wildcards."""
        names = self.wildcards()
        wanted = tuple(str(wildcards[name]) for name in names)
        if wanted not in self._jobs_by_wildcards:
            raise KeyError(f"{self.name}: no planned job for {dict(zip(names, wanted))}")
        return self._jobs_by_wildcards[wanted]


def _key(*parts: Any) -> str:
    return "-".join(str(part) for part in parts)


def _quoted(path: Path | str) -> str:
    return shlex.quote(str(path))


def _shell_word(text: str) -> str:
    """``text`` as one shell word: in double quotes where nothing in it is special there (a training's
    options, with their single-quoted ``--set`` values, stay readable in dvc.yaml), else shlex's quoting."""
    if any(character in text for character in '"$`\\!'):
        return shlex.quote(text)
    return f'"{text}"'


def _even_batches(kind: str, runs: Sequence[Mapping[str, Any]], most: int) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """``runs`` cut into the fewest batches of at most ``most`` runs, of sizes that differ by one at most,
    in order: ``[(kind, runs)]`` when they fit in one, else ``[(f"{kind}-1", first), (f"{kind}-2", ...)]``."""
    count = -(-len(runs) // most)
    size, extra = divmod(len(runs), count)
    batches, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        batches.append((kind if count == 1 else f"{kind}-{index + 1}", list(runs[start:end])))
        start = end
    return batches


def _batch_field(run_file: str) -> str:
    """The field of a training batch listing one kind of run output (``metrics.json`` -> ``metrics_json_files``)."""
    return run_file.replace(".", "_") + "_files"


@dataclass(frozen=True)
class Plan:
    """Every stage of the pipeline for one params.yaml."""

    params: Mapping[str, Any]

    # ------------------------------------------------------------------ what the params declare
    @cached_property
    def registry_datasets(self) -> list[str]:
        return sorted(self.params.get("datasets") or {})

    @cached_property
    def synthetic_datasets(self) -> list[str]:
        return sorted(self.params.get("synthetic") or {})

    @cached_property
    def experiments(self) -> list[str]:
        return sorted(self.params.get("experiments") or {})

    @cached_property
    def runs(self) -> dict[str, list[Any]]:
        return {experiment: experiment_runs(self.params, experiment) for experiment in self.experiments}

    @cached_property
    def trained_datasets(self) -> list[str]:
        return list(dict.fromkeys(run.dataset for runs in self.runs.values() for run in runs))

    def feature_file(self, dataset: str, modality: str) -> str:
        return str(feature_path(Path("data"), dataset, modality, configured_encoder(dict(self.params), modality)))

    # ------------------------------------------------------------------------------- the stages
    @cached_property
    def stages(self) -> list[Stage]:
        stages = [self._download(), self._preprocess(), self._images(), *self._features(), self._export(),
                  self._synth(), self._graphs(), self._train_grid(), self._select(), self._train(), self._search(),
                  self._train_variant(), self._aggregate(), self._figures()]
        return [stage for stage in stages if stage.items]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in the plan; stages: {[s.name for s in self.stages]}")

    def _data_stage(self, name: str, doc: str, entry: str, command: str, **spec: Any) -> Stage:
        items = {dataset: {"dataset": dataset} for dataset in self.registry_datasets}
        return Stage(name=name, doc=doc, command=command + f" {{dataset}} --params {PARAMS_FILE}", items=items,
                     code=tuple(stage_sources(entry)), log=f"logs/{name}/{{dataset}}.log", **spec)

    def _download(self) -> Stage:
        return self._data_stage(
            "download", "Fetch and verify a registered dataset's files (partial files resume).",
            "searec.commands.data:cmd_download", "data download", dvc_deps=(),
            outputs=(Output(str(raw_dir("{dataset}")), persist=True),),
            snakemake_outputs=(str(raw_dir("{dataset}") / "manifest.json"),),
            params=("datasets.{dataset}", "download"))

    def _preprocess(self) -> Stage:
        return self._data_stage(
            "preprocess", "k-core, dense ids, seeded split and item text: the processed tables.",
            "searec.commands.data:cmd_preprocess", "data preprocess", dvc_deps=(str(raw_dir("{dataset}")),),
            snakemake_inputs=(str(raw_dir("{dataset}") / "manifest.json"),),
            outputs=(Output(str(processed_dir("{dataset}"))),),
            snakemake_outputs=tuple(str(processed_dir("{dataset}") / name) for name in
                                    ("manifest.json", "interactions.parquet", "items.parquet", "users.parquet")),
            params=("preprocess",))

    def _images(self) -> Stage:
        return self._data_stage(
            "images", "Every item's product image, cached by URL, with a manifest of outcomes.",
            "searec.commands.data:cmd_images", "data images",
            dvc_deps=(str(raw_dir("{dataset}")), str(processed_dir("{dataset}") / "items.parquet")),
            snakemake_inputs=(str(raw_dir("{dataset}") / "manifest.json"),
                              str(processed_dir("{dataset}") / "items.parquet")),
            outputs=(Output(str(images_dir("{dataset}")), persist=True),),
            snakemake_outputs=(str(images_dir("{dataset}") / "manifest.json"),), params=("images",))

    def _features(self) -> list[Stage]:
        inputs = {"text": (str(processed_dir("{dataset}") / "items.parquet"),),
                  "image": (str(raw_dir("{dataset}")), str(processed_dir("{dataset}") / "items.parquet"),
                            str(images_dir("{dataset}") / "manifest.json"))}
        stages = []
        for modality in FEATURE_MODALITIES:
            matrix = self.feature_file("{dataset}", modality)
            snakemake_inputs = tuple(str(raw_dir("{dataset}") / "manifest.json") if path == str(raw_dir("{dataset}"))
                                     else path for path in inputs[modality])
            stages.append(self._data_stage(
                f"features_{modality}", f"Item {modality} features through the configured encoder.",
                f"searec.commands.features:cmd_features_{modality}", f"features {modality}",
                dvc_deps=inputs[modality], snakemake_inputs=snakemake_inputs,
                outputs=(Output(matrix), Output(matrix.removesuffix(".npy") + ".json", cache=False)),
                params=(f"features.{modality}",),
                threads=int(feature_settings(dict(self.params), modality)["threads"])))
        return stages

    def _export(self) -> Stage:
        modalities = ",".join(FEATURE_MODALITIES)
        return self._data_stage(
            "export_mmrec", "The MMRec folder models train on (MMRec and the released SEA code read it too).",
            "searec.commands.data:cmd_export_mmrec", f"data export-mmrec --with-features {modalities}",
            dvc_deps=(str(processed_dir("{dataset}")), *(self.feature_file("{dataset}", m) for m in FEATURE_MODALITIES)),
            snakemake_inputs=(str(processed_dir("{dataset}") / "manifest.json"),
                              *(self.feature_file("{dataset}", m) for m in FEATURE_MODALITIES)),
            outputs=(Output(str(mmrec_dir("{dataset}"))),), directory_output=True)

    def _synth(self) -> Stage:
        items = {}
        for name, spec in (self.params.get("synthetic") or {}).items():
            options = "".join(f" --{key.replace('_', '-')} {spec[key]}" for key in SYNTH_OPTIONS if key in spec)
            items[name] = {"dataset": name, "options": options}
        return Stage(name="synth", doc="A planted synthetic MMRec folder.", items=items,
                     command=f"synth --out {mmrec_dir('{dataset}')}{{options}}", dvc_deps=(),
                     outputs=(Output(str(mmrec_dir("{dataset}"))),), params=("synthetic.{dataset}",),
                     code=tuple(stage_sources("searec.commands.data:cmd_synth")), log="logs/synth/{dataset}.log",
                     directory_output=True)

    def _graphs(self) -> Stage:
        return Stage(
            name="graphs", doc="User-item, item-item kNN and user-user graphs of one MMRec folder.",
            items={dataset: {"dataset": dataset} for dataset in self.trained_datasets},
            command=f"graphs {{dataset}} --params {PARAMS_FILE}", dvc_deps=(str(mmrec_dir("{dataset}")),),
            outputs=(Output(str(graphs_dir("{dataset}"))),),
            snakemake_outputs=(str(graphs_dir("{dataset}") / "manifest.json"),), params=("graphs",),
            code=tuple(stage_sources("searec.commands.graphs:cmd_graphs")), log="logs/graphs/{dataset}.log")

    # ----------------------------------------------------------------------------- training
    @cached_property
    def training_code(self) -> tuple[str, ...]:
        """The code every training runs: the trainer and everything the models share (not the model files).

        Each run adds its own model's file (``{model_file}``), so an edit of one model reruns only
        its runs; an edit of a module several models import reruns them all.
        """
        from searec.params import params_schema

        models = sorted(params_schema()["properties"]["models"]["properties"])
        model_files = {model_source(model) for model in models}
        shared = sorted({path for model in models for path in training_sources(model)})
        return tuple(path for path in shared if path not in model_files)

    @cached_property
    def training_batches(self) -> bool:
        """Whether each training job trains a batch of runs (:func:`searec.resources.trainings_together`):
        one model's runs on one dataset of its grid search, of the main experiment, or of one other
        experiment's variants, in one process, one after another, instead of a process each; at most
        ``resources.runs_per_batch`` runs a job (more are cut into even batches, which run side by
        side). On the sample a training takes seconds, and starting Python, torch and the data for each
        was about half of ``make run``'s CPU time; one batch of SEA's 16 variants was the last job
        running, alone on one core, for its last 100 s."""
        from searec.resources import trainings_together

        models = sorted({run.model for runs in self.runs.values() for run in runs})
        return trainings_together(self.params, models)

    @cached_property
    def searches_in_one_job(self) -> set[tuple[str, str]]:
        """``(dataset, model)`` pairs whose whole search is one job (stage ``search``): its grid runs, the
        ``select`` of the best point and that point's other seeds, one after another in one process.

        With training batches (:attr:`training_batches`), where those trainings number at most
        ``resources.runs_per_batch``: the sample's two-point grids and two more seeds. Apart, the
        three are a grid batch, a ``select`` job and a main batch: two more processes, each paying
        Python's, torch's and the data's start (3-6 s here) for a few seconds of training, 14 times
        over in ``make run``. A larger search (the paper's grids) stays apart, its grid cut into
        batches that run side by side.
        """
        seed = search_seed(self.params)
        if not self.training_batches or seed is None:
            return set()
        trainings: dict[tuple[str, str], int] = {}
        for grid_run in planned_grid_runs(self.params):
            trainings[(grid_run.dataset, grid_run.model)] = trainings.get((grid_run.dataset, grid_run.model), 0) + 1
        for run in self.runs.get("main", []):
            if not self._reuses("train", {"seed": run.seed}):  # at the search seed the grid run is reused
                trainings[(run.dataset, run.model)] = trainings.get((run.dataset, run.model), 0) + 1
        most = int(section(self.params, "resources")["runs_per_batch"])
        return {pair for pair, count in trainings.items() if count <= most}

    @staticmethod
    def _run_options(directory: str, selected: bool) -> str:
        """A run's ``searec train`` options as a template over its fields."""
        return (f"--data {mmrec_dir('{dataset}')} --model {{model}} --seed {{seed}} --out {directory} "
                f"--graph-cache {graphs_dir('{dataset}')} --threads {TRAINING_THREADS}"
                + (" --selected {selection}" if selected else "") + "{settings}")

    def _run_file_kinds(self, main: bool) -> dict[str, dict[str, Any]]:
        """How DVC tracks each run file; the runs tables are made of (``main``) give its metrics and plots."""
        metric = section(self.params, "training")["valid_metric"]
        return {RUN_MODEL: {}, RUN_CONFIG: {"cache": False}, RUN_PER_USER_TEST: {"cache": False},
                RUN_METRICS: {"cache": False, "kind": "metrics" if main else "outs"},
                RUN_HISTORY: {"cache": False, "kind": "plots" if main else "outs",
                              "plot_x": "epoch" if main else None, "plot_y": f"valid_{metric}" if main else None}}

    def _training_stage(self, name: str, doc: str, batch_doc: str, items: dict[str, dict[str, Any]],
                        directory: str, selected: bool, reusing: bool = False) -> Stage:
        """The runs ``items`` (one per run: its template fields) as a stage: a job per run, or per batch.
        ``reusing``: the items have a ``reuse`` option and, where any run reuses another, ``reused_metrics``
        (that run's metrics file: a dependency, except on a run of the same batch, trained before it there)."""
        assert name in TRAINING_STAGES, name
        options = self._run_options(directory, selected) + ("{reuse}" if reusing else "")
        reused = ("{reused_metrics}",) if any("reused_metrics" in fields for fields in items.values()) else ()
        deps = (str(mmrec_dir("{dataset}")), str(graphs_dir("{dataset}")), *(("{selection}",) if selected else ()),
                *reused, "{model_file}")
        inputs = (str(mmrec_dir("{dataset}")), str(graphs_dir("{dataset}") / "manifest.json"),
                  *(("{selection}",) if selected else ()), *reused, "{model_file}")
        kinds = self._run_file_kinds(main=name != "train_grid")
        spec: dict[str, Any] = {"name": name, "doc": doc, "dvc_deps": deps, "snakemake_inputs": inputs,
                                "code": self.training_code, "threads": TRAINING_THREADS}
        if not self.training_batches:
            return Stage(items=items, command=f"train {options}",
                         outputs=tuple(Output(f"{directory}/{file}", **kinds[file]) for file in RUN_OUTPUTS),
                         log=f"logs/{name}/{{dataset}}/{{model}}/{{folder}}/seed-{{seed}}.log", **spec)
        kinds_of_runs: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
        for fields in items.values():
            # a batch per model x dataset x experiment: its grid search, its main runs, each other experiment's
            # variants (searec.resources.JOB_GROUPS names their job groups)
            kind = {"train_grid": "search", "train": "main"}.get(name) or fields["experiment"]
            kinds_of_runs.setdefault((fields["dataset"], fields["model"], kind), []).append(fields)
        batches: dict[str, dict[str, Any]] = {}
        for (dataset, model, kind), runs in kinds_of_runs.items():
            for batch, chunk in _even_batches(kind, runs, int(section(self.params, "resources")["runs_per_batch"])):
                shared = {key: chunk[0][key] for key in ("dataset", "model", "model_file", "selection")
                          if key in chunk[0]}
                folders = [directory.format(**fields) for fields in chunk]
                if reused:
                    shared["reused_metrics"] = [path for fields in chunk for path in fields["reused_metrics"]
                                                if path.rpartition("/")[0] not in folders]
                batches[_key(dataset, model, batch)] = shared | {
                    "batch": batch, "runs": "".join(" " + _shell_word(options.format(**fields)) for fields in chunk),
                    "run_folders": folders, "trained_runs": sum(not self._reuses(name, fields) for fields in chunk),
                    **{_batch_field(file): [f"{folder}/{file}" for folder in folders] for file in RUN_OUTPUTS}}
        spec["doc"] = batch_doc
        return Stage(items=batches, command="train-batch{runs}",
                     outputs=tuple(Output(f"{{{_batch_field(file)}}}", **kinds[file]) for file in RUN_OUTPUTS),
                     log=f"logs/{name}/{{dataset}}/{{model}}/{{batch}}.log", **spec)

    def trained_runs(self, stage: str, job: Job) -> int:
        """The runs a job of a training stage trains (resources.training_priority weighs them): a batch's or a
        one-job search's ``trained_runs``; for a job of one run, 1, or 0 where that run copies another."""
        if "trained_runs" in job.fields:
            return int(job.fields["trained_runs"])
        return int(not self._reuses(stage, job.fields))

    def _reuses(self, stage: str, fields: Mapping[str, Any]) -> bool:
        """Whether a run of a training stage copies an identical run instead of training: a variant given
        ``--reuse``, or a main run at the search seed (its selected grid run)."""
        if stage == "train":
            return int(fields["seed"]) == search_seed(self.params)
        return bool(fields.get("reuse"))

    def _settings(self, model: str, variant: tuple[str, str] | None = None,
                  point: Mapping[str, Any] | None = None) -> str:
        options = configured_settings(self.params, model, variant, point).set_options()
        return "".join(f" {option}" for option in options)

    def _grid_items(self) -> dict[str, dict[str, Any]]:
        """The template fields of every grid run."""
        return {run.key: {"dataset": run.dataset, "model": run.model, "folder": run.point.name,
                          "seed": str(run.seed), "model_file": model_source(run.model),
                          "settings": self._settings(run.model, point=run.point.values)}
                for run in planned_grid_runs(self.params)}

    def _main_items(self) -> dict[str, dict[str, Any]]:
        """The template fields of every run of the searched experiment (none where it does not search)."""
        if search_seed(self.params) is None:
            return {}
        return {_key(run.dataset, run.model, run.seed): self._run_fields(
                    run, selection=str(selection_path(run.dataset, run.model)), settings=self._settings(run.model))
                for run in self.runs.get("main", [])}

    def _apart(self, items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The runs of ``items`` whose search is not one job of its own (:attr:`searches_in_one_job`)."""
        return {key: fields for key, fields in items.items()
                if (fields["dataset"], fields["model"]) not in self.searches_in_one_job}

    def _train_grid(self) -> Stage:
        items = self._apart(self._grid_items())
        directory = str(grid_run_dir("{dataset}", "{model}", "{folder}", "{seed}"))
        return self._training_stage("train_grid", "Train one point of a model's grid at the search seed.",
                                    "Train points of one model's grid at the search seed, in one process.",
                                    items, directory, selected=False)

    @cached_property
    def select_code(self) -> tuple[str, ...]:
        return tuple(stage_sources("searec.commands.training:cmd_select"))

    def _select(self) -> Stage:
        items: dict[str, dict[str, Any]] = {}
        for run in planned_grid_runs(self.params):
            if (run.dataset, run.model) in self.searches_in_one_job:
                continue
            item = items.setdefault(_key(run.dataset, run.model), {"dataset": run.dataset, "model": run.model,
                                                                   "grid_metrics": []})
            item["grid_metrics"].append(str(run.directory() / RUN_METRICS))
        selection = str(selection_path("{dataset}", "{model}"))
        return Stage(
            name="select", doc="The grid point with the best validation metric (never the test split).",
            items=items, command=SELECT_COMMAND.replace("{selection}", selection),
            dvc_deps=("{grid_metrics}",), outputs=(Output(selection, cache=False),), params=SELECT_PARAMS,
            code=self.select_code, log="logs/select/{dataset}/{model}.log")

    @staticmethod
    def _run_fields(run: Any, **fields: str) -> dict[str, Any]:
        """The template fields of one run of an experiment (``folder``: its variant folder)."""
        return {"dataset": run.dataset, "model": run.model, "folder": run.variant, "seed": str(run.seed),
                "model_file": model_source(run.model)} | fields

    def _train(self) -> Stage:
        """The searched experiment's runs: the point ``select`` chose, every seed (the grid run reused at its seed)."""
        directory = str(run_dir("{dataset}", "{model}", "{seed}", "{folder}"))
        return self._training_stage("train", "Train the selected grid point of one model with one seed.",
                                    "Train the selected grid point of one model with its seeds, in one process.",
                                    self._apart(self._main_items()), directory, selected=True)

    def _search(self) -> Stage:
        """Each search of :attr:`searches_in_one_job` as one ``searec train-batch``: the grid runs, ``select``, the
        selected point with every seed (the grid run reused at the search seed) — the commands of the
        ``train_grid``, ``select`` and ``train`` jobs it replaces, in their order, in one process."""
        grid_directory = str(grid_run_dir("{dataset}", "{model}", "{folder}", "{seed}"))
        main_directory = str(run_dir("{dataset}", "{model}", "{seed}", "{folder}"))
        grid_options, main_options = self._run_options(grid_directory, False), self._run_options(main_directory, True)
        runs: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        for kind, items in (("grid", self._grid_items()), ("main", self._main_items())):
            for fields in items.values():
                if (fields["dataset"], fields["model"]) in self.searches_in_one_job:
                    runs.setdefault((fields["dataset"], fields["model"]), {"grid": [], "main": []})[kind].append(fields)
        jobs: dict[str, dict[str, Any]] = {}
        for (dataset, model), found in runs.items():
            selection = str(selection_path(dataset, model))
            grid_folders = [grid_directory.format(**fields) for fields in found["grid"]]
            main_folders = [main_directory.format(**fields) for fields in found["main"]]
            commands = ([grid_options.format(**fields) for fields in found["grid"]]
                        + [SELECT_COMMAND.format(dataset=dataset, model=model, selection=selection)]
                        + [main_options.format(**fields) for fields in found["main"]])
            jobs[_key(dataset, model)] = {
                "dataset": dataset, "model": model, "model_file": model_source(model), "batch": "search",
                "runs": "".join(" " + _shell_word(command) for command in commands),
                "run_folders": grid_folders + main_folders, "selection_file": [selection],
                "trained_runs": len(grid_folders) + sum(not self._reuses("train", fields) for fields in found["main"]),
                **{"grid_" + _batch_field(file): [f"{folder}/{file}" for folder in grid_folders] for file in RUN_OUTPUTS},
                **{_batch_field(file): [f"{folder}/{file}" for folder in main_folders] for file in RUN_OUTPUTS}}
        grid_kinds, main_kinds = self._run_file_kinds(main=False), self._run_file_kinds(main=True)
        return Stage(
            name="search", doc="A model's grid search, its selection and the selected point with every seed, "
                               "in one process.",
            items=jobs, command="train-batch{runs}",
            dvc_deps=(str(mmrec_dir("{dataset}")), str(graphs_dir("{dataset}")), "{model_file}"),
            snakemake_inputs=(str(mmrec_dir("{dataset}")), str(graphs_dir("{dataset}") / "manifest.json"),
                              "{model_file}"),
            outputs=(*(Output(f"{{grid_{_batch_field(file)}}}", **grid_kinds[file]) for file in RUN_OUTPUTS),
                     Output("{selection_file}", cache=False),
                     *(Output(f"{{{_batch_field(file)}}}", **main_kinds[file]) for file in RUN_OUTPUTS)),
            # no params: what the selection reads of params.yaml (the model's grid points, the search seed,
            # the metric) is in the grid runs' command lines already
            code=tuple(dict.fromkeys(self.training_code + self.select_code)),
            threads=TRAINING_THREADS, log="logs/search/{dataset}/{model}.log")

    def _variant_runs(self) -> list[tuple[str, Any]]:
        """``(experiment, run)`` of every run of the experiments that do not search (stage ``train_variant``)."""
        return [(experiment, run) for experiment, runs in self.runs.items() for run in runs
                if not (experiment == "main" and search_seed(self.params) is not None)]

    @staticmethod
    def _variant_of(experiment: str, run: Any) -> tuple[str, str] | None:
        return (experiment, run.variant_name) if run.variant_name is not None else None

    @cached_property
    def same_computation(self) -> dict[str, str]:
        """Run folder -> the folder of the first planned run that is the same computation: the same dataset,
        model, seed and resolved settings (:meth:`searec.settings.RunSettings.resolved`), in plan order
        (grid runs, then the experiments' variants). Such a run is given ``--reuse`` that folder and copies
        its files (the trainer checks the identity again) instead of training it twice.

        A sweep repeats runs the plan already has: on the sample, SEA's sensitivity variants alpha-0.01 and
        alpha-0.1 at seed 0 are its grid points at the search seed; in the paper preset, ablation ``full``
        and the sweeps' default values (tau-0.2, ureg-0.006, ...) are one computation at every seed, and
        many sweep points at seed 999 are grid points: Baby-scale SEA trainings of an hour or more each.
        The searched experiment's runs are not here: their point is known only once ``select`` ran (they
        reuse the grid run at the search seed through their selection file).
        """
        import json

        first: dict[tuple[str, str, int, str], str] = {}
        same: dict[str, str] = {}
        resolved: dict[tuple[str, Any], str] = {}  # a model's settings do not depend on dataset or seed

        def visit(folder: str, dataset: str, model: str, seed: int, source: Any, settings: Any) -> None:
            if (model, source) not in resolved:
                resolved[(model, source)] = json.dumps(settings().resolved(model), sort_keys=True, default=str)
            key = (dataset, model, seed, resolved[(model, source)])
            if key in first:
                same[folder] = first[key]
            else:
                first[key] = folder

        for grid_run in planned_grid_runs(self.params):
            visit(str(grid_run.directory()), grid_run.dataset, grid_run.model, grid_run.seed, grid_run.point.name,
                  lambda run=grid_run: configured_settings(self.params, run.model, None, run.point.values))
        for experiment, run in self._variant_runs():
            variant = self._variant_of(experiment, run)
            visit(str(run.directory()), run.dataset, run.model, run.seed, variant,
                  lambda run=run, variant=variant: configured_settings(self.params, run.model, variant))
        return same

    def _train_variant(self) -> Stage:
        """Runs of the experiments that do not search: their variants (SEA's ablation, the sweeps) over models.<m>;
        a run that repeats an earlier one (:attr:`same_computation`) reuses it."""
        items = {}
        for experiment, run in self._variant_runs():
            source = self.same_computation.get(str(run.directory()))
            items[_key(run.dataset, run.model, run.variant, run.seed)] = self._run_fields(
                run, experiment=experiment, settings=self._settings(run.model, variant=self._variant_of(experiment, run)),
                reuse=f" --reuse {source}" if source else "", reused_metrics=[f"{source}/{RUN_METRICS}"] if source else [])
        if not any(fields["reused_metrics"] for fields in items.values()):
            for fields in items.values():
                del fields["reused_metrics"]  # a list field makes DVC stages per job; without reuse, keep foreach
        directory = str(run_dir("{dataset}", "{model}", "{seed}", "{folder}"))
        return self._training_stage("train_variant", "Train one variant of an experiment with one seed.",
                                    "Train variants of one model's experiment with their seeds, in one process.",
                                    items, directory, selected=False, reusing=True)

    # --------------------------------------------------------------------------------- report
    def _aggregate(self) -> Stage:
        items = {}
        for experiment, runs in self.runs.items():
            files = [str(run.directory() / name) for run in runs for name in (RUN_METRICS, RUN_PER_USER_TEST)]
            items[experiment] = {"experiment": experiment, "run_files": files}
        prefix = str(table_prefix("{experiment}"))
        return Stage(
            name="aggregate", doc="Mean ± std over seeds of an experiment's runs; SEA against the best baseline.",
            items=items, command=f"aggregate --out {prefix} --experiment {{experiment}} --params {PARAMS_FILE}",
            dvc_deps=("{run_files}",), outputs=tuple(Output(f"{prefix}.{ext}", cache=False) for ext in TABLE_FORMATS),
            params=("experiments.{experiment}", "seeds"),
            code=tuple(stage_sources("searec.commands.report:cmd_aggregate")), log="logs/aggregate/{experiment}.log")

    @cached_property
    def figures(self) -> list[tuple[str, str, str | None]]:
        """``(name, kind, dataset)`` of every figure ``searec figures`` draws for these params."""
        main = self.runs.get("main", [])
        figures: list[tuple[str, str, str | None]] = [
            (f"training-{d}", "training", d) for d in dict.fromkeys(run.dataset for run in main)]
        figures += [(name, name, None) for name in ("ablation", "sensitivity") if name in self.runs]
        figures += [(f"representations-{d}", "representations", d)
                    for d in dict.fromkeys(run.dataset for run in main if run.model == REPRESENTATION_MODEL)]
        return figures

    def _figures(self) -> Stage:
        main = self.runs.get("main", [])
        inputs = [str(run.directory() / RUN_METRICS) for run in main]
        inputs += [f"{table_prefix(experiment)}.csv" for experiment in self.experiments]
        represented = [dataset for _, kind, dataset in self.figures if kind == "representations"]
        graphs = [str(graphs_dir(dataset)) for dataset in represented]
        outputs = [str(FIGURES_DIR / f"{name}.{ext}") for name, _, _ in self.figures for ext in FIGURE_FORMATS]
        items = {"": {"inputs": inputs + graphs, "snakemake_inputs": inputs + [f"{g}/manifest.json" for g in graphs],
                         "outputs": outputs}} if self.figures else {}
        return Stage(
            name="figures", doc="Training curves, ablation bars, sensitivity lines, SEA's representations.",
            items=items, command=f"figures --out {FIGURES_DIR} --params {PARAMS_FILE} --threads {FIGURE_THREADS}",
            dvc_deps=("{inputs}",), threads=FIGURE_THREADS,
            snakemake_inputs=("{snakemake_inputs}",), outputs=(Output(str(FIGURES_DIR), cache=False),),
            snakemake_outputs=("{outputs}",), params=("experiments", "seeds"),
            code=tuple(stage_sources("searec.commands.report:cmd_figures")), log="logs/figures.log")

    # ------------------------------------------------------------------------------ the targets
    def final_targets(self) -> list[str]:
        """What `snakemake` builds by default: every table and figure, the images, the synthetic folders."""
        targets = [f"{table_prefix(e)}.{ext}" for e in self.experiments for ext in TABLE_FORMATS]
        targets += [str(FIGURES_DIR / f"{name}.{ext}") for name, _, _ in self.figures for ext in FIGURE_FORMATS]
        targets += [str(images_dir(d) / "manifest.json") for d in self.registry_datasets if d in self.trained_datasets]
        targets += [str(mmrec_dir(d)) for d in self.synthetic_datasets]  # dvc repro builds every declared stage too
        return targets

