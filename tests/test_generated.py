"""The generated files (the schema's models and grids, dvc.yaml) are current, and `searec generate` keeps them so."""

from pathlib import Path

import pytest
import yaml

from searec.cli import main
from searec.generated import generated_files
from tests.conftest import PROJECT_ROOT


def test_every_generated_file_of_the_repository_is_current() -> None:
    files = generated_files(PROJECT_ROOT / "params.yaml")
    assert {f.path.name for f in files} == {"params.schema.yaml", "dvc.yaml"}
    for generated in files:
        assert generated.stale() is None, f"{generated.path} is stale: run `searec generate` and commit it"


def test_generate_check_names_a_stale_file_and_generate_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--check"]) == 1
    assert "dvc.yaml does not exist; regenerate it: searec generate" in capsys.readouterr().err
    assert main(["generate"]) == 0 and main(["generate", "--check"]) == 0
    params["grids"]["bpr"]["reg_weight"].append(1.0)  # a new grid point: dvc.yaml must list its run
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert main(["generate", "--check"]) == 1
    assert "dvc.yaml is stale" in capsys.readouterr().err
    main(["generate"])
    assert "train_grid" in (tmp_path / "dvc.yaml").read_text() and "reg_weight=1.0" in (tmp_path / "dvc.yaml").read_text()


@pytest.mark.slow
def test_dvc_repro_stops_at_its_first_stage_on_a_stale_dvc_yaml_or_a_misspelt_key(tmp_path: Path) -> None:
    """DVC runs the commands written in dvc.yaml: its first stage refuses to go on when they are not
    params.yaml's, or when params.yaml has a mistake, before any other stage runs."""
    import subprocess
    import sys

    from tests.test_workflow import _env, copy_workflow

    copy_workflow(tmp_path)
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, env=_env(), check=True)

    def repro() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dvc", "repro", "generated_current"], cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=300)

    assert repro().returncode == 0  # the committed dvc.yaml is current for the committed params.yaml
    params["grids"]["bpr"]["reg_weight"].append(1.0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = repro()
    assert stale.returncode != 0 and "dvc.yaml is stale; regenerate it: searec generate" in stale.stderr + stale.stdout
    params["grids"]["bpr"]["reg_weight"].pop()
    params["models"] = {"sea": {"alpah": 0.1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    misspelt = repro()
    output = misspelt.stderr + misspelt.stdout
    assert misspelt.returncode != 0 and "models.sea: Additional properties are not allowed ('alpah'" in output
    assert "known keys: embedding_size" in output and "Running stage 'download@sample'" not in output
