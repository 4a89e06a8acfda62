"""The pipeline templates in ci/templates are valid YAML and run the commands this repo documents."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

TEMPLATES = Path(__file__).resolve().parents[1] / "ci" / "templates"


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_template_installs_runs_publishes_and_gates(name: str) -> None:
    text = (TEMPLATES / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "ci/install.sh" in text
    assert "chaosgate run scenarios/ --out out" in text
    assert "out/junit.xml" in text
    assert "chaosgate cleanup" in text
    assert (Path(__file__).resolve().parents[1] / "ci" / "install.sh").exists()
