"""The pip route (pyproject.toml) and the conda route (environment.yml) install the same things."""

import re
import tomllib

import yaml

from tests.conftest import PROJECT_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject_dependencies() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = environment["dependencies"]
    assert "python=3.11" in conda
    pip_section = next(item["pip"] for item in conda if isinstance(item, dict))
    pinned = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(pinned) == sorted(project["dependencies"])
    assert "-e ." in pip_section
    assert project["requires-python"].startswith(">=3.11")
    assert {_name(r) for r in project["dependencies"]} >= {"torch", "torchvision", "sentence-transformers",
                                                           "snakemake", "dvc", "pandas", "pyarrow", "scipy",
                                                           "matplotlib", "tqdm"}
