"""User-facing errors: the CLI prints them without a traceback (exit status 2).

Each message names the file, the record or setting, what was expected, and what to do.
"""


class SearecError(ValueError):
    """Base of every error caused by input the user can fix."""


class DatasetError(SearecError):
    """A dataset file is malformed."""


class ModelConfigError(SearecError):
    """Unknown model name or hyper-parameter, or a value of the wrong type."""


class RunConflictError(SearecError):
    """A run folder holds a checkpoint or result of a different configuration."""


class TrainingDivergedError(SearecError):
    """The training loss became NaN or infinite."""


class NonFiniteScoresError(SearecError):
    """A score matrix holds NaN or ±inf where a real score was expected."""


class AggregationError(SearecError):
    """Run results that cannot be aggregated as asked (duplicates, mixed configurations)."""


class ParamsError(SearecError):
    """params.yaml does not match its schema (workflow/schemas/params.schema.yaml)."""
