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
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--check"]) == 1
    assert "dvc.yaml does not exist; regenerate it: searec generate" in capsys.readouterr().err
    assert main(["generate"]) == 0 and main(["generate", "--check"]) == 0
    params["grids"]["bpr"]["reg_weight"].append(1.0)  # a new grid point: dvc.yaml must list its run
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["generate", "--check"]) == 1
    assert "dvc.yaml is stale" in capsys.readouterr().err
    main(["generate"])
    assert "train_grid" in (tmp_path / "dvc.yaml").read_text() and "reg_weight=1.0" in (tmp_path / "dvc.yaml").read_text()
