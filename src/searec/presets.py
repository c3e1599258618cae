"""Presets: params files shipped with the package (only what differs from the declared defaults).

One of them is the project's params.yaml. (They were called profiles until Snakemake's workflow
profiles came in, which are something else: how and where jobs run, ``workflow/profiles/``.)

``quick`` (the default params.yaml: the embedded sample, offline, minutes) and ``paper`` (the SEA
paper's setting: Amazon 2014 Baby, Sports and Clothing, MMRec's grids, seed 999 + two). Both
Snakemake and DVC read params.yaml only, so switching is replacing that file — the DVC way to
run another experiment, visible to ``dvc params diff`` — and regenerating ``dvc.yaml`` beside it
(``searec generate``), which DVC reads.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from searec.errors import ParamsError
from searec.fileio import write_text_atomic
from searec.params import validate_params

PRESETS_FOLDER = "presets"


def available_presets() -> list[str]:
    folder = resources.files("searec").joinpath(PRESETS_FOLDER)
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    if name not in available_presets():
        raise ParamsError(f"no preset {name!r}; available: {', '.join(available_presets())}")
    return resources.files("searec").joinpath(f"{PRESETS_FOLDER}/{name}.yaml").read_text(encoding="utf-8")


def preset_summary(name: str) -> str:
    """The preset's first comment line, without the comment mark."""
    first = preset_text(name).splitlines()[0]
    return first.lstrip("# ").strip()


def current_preset(params_path: Path) -> str | None:
    """The preset ``params_path`` is a verbatim copy of, or ``None`` (edited, or missing)."""
    if not params_path.exists():
        return None
    text = params_path.read_text(encoding="utf-8")
    return next((name for name in available_presets() if preset_text(name) == text), None)


def use_preset(name: str, params_path: Path, force: bool = False) -> list[Path]:
    """Write preset ``name`` to ``params_path`` and regenerate ``dvc.yaml`` beside it; return what was rewritten.

    A params file that is no preset's copy holds someone's edits: it is kept unless ``force``.
    """
    from searec.generated import DVC_FILE, dvc_text

    text = preset_text(name)
    params = yaml.safe_load(text)
    validate_params(params, f"preset {name}")
    if params_path.exists() and current_preset(params_path) is None and not force:
        raise ParamsError(f"{params_path} has edits that are in no preset ({', '.join(available_presets())}); "
                          f"commit or copy it first, or pass --force to replace it")
    write_text_atomic(params_path, text)
    dvc_file = params_path.parent / DVC_FILE
    write_text_atomic(dvc_file, dvc_text(params_path))
    return [dvc_file]
