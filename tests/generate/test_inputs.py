"""What generate does with documents it cannot use: exit 2, a message naming the spot, no file."""

from __future__ import annotations

import json
from pathlib import Path

from chaosgate.ports import free_port
from tests.generate.conftest import chaosgate

MINIMAL = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


def _generate(tmp_path: Path, document: object | str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "doc.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    result = chaosgate(tmp_path, "generate", "--openapi", str(path), "--out", "out", "--target", "x", *extra)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr


def test_swagger_2_is_refused_with_how_to_convert(tmp_path: Path) -> None:
    swagger = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {}}}}
    code, stderr = _generate(tmp_path, swagger)
    assert code == 2
    assert "a Swagger 2.0 document" in stderr
    assert "OpenAPI 3.0 and 3.1 documents only" in stderr
    assert "swagger2openapi" in stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_and_foreign_documents_exit_2(tmp_path: Path) -> None:
    missing = chaosgate(tmp_path, "generate", "--openapi", "nowhere.json", "--out", "out")
    assert missing.returncode == 2
    assert "cannot read the OpenAPI document nowhere.json" in missing.stderr
    code, stderr = _generate(tmp_path, "paths: [unclosed")
    assert code == 2
    assert "not a JSON or YAML document" in stderr
    assert "line 1" in stderr
    code, stderr = _generate(tmp_path, {"openapi": "4.0", "paths": {}})
    assert code == 2
    assert "#/openapi: expected an OpenAPI 3.0 or 3.1 version" in stderr
    code, stderr = _generate(tmp_path, {**MINIMAL, "paths": {}})
    assert code == 2
    assert "#/paths: the document declares no operation" in stderr


def test_a_broken_reference_is_named_by_its_json_pointer(tmp_path: Path) -> None:
    response = {
        "description": "ok",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}},
    }
    document = {**MINIMAL, "paths": {"/things/{id}": {"get": {"responses": {"200": response}}}}}
    code, stderr = _generate(tmp_path, document)
    assert code == 2
    assert (
        "#/paths/~1things~1{id}/get/responses/200/content/application~1json/schema/$ref: "
        "`#/components/schemas/Nope` points to nothing"
    ) in stderr
    assert not (tmp_path / "out").exists()


def test_a_remote_url_needs_allow_remote(tmp_path: Path) -> None:
    result = chaosgate(tmp_path, "generate", "--openapi", "http://192.0.2.1/openapi.json", "--out", "out")
    assert result.returncode == 2
    assert "192.0.2.1 is not a loopback address; pass --allow-remote" in result.stderr


def test_existing_files_are_kept_unless_overwrite(tmp_path: Path) -> None:
    code, stderr = _generate(tmp_path, MINIMAL)
    assert code == 0, stderr
    assert "no target file `x` yet" in stderr  # only network faults, and the advice to write one
    written = sorted(p.name for p in (tmp_path / "out").rglob("*.yaml"))
    assert len(written) == 6
    first = tmp_path / "out" / "network" / written[0]
    first.write_text("# edited\n")
    code, stderr = _generate(tmp_path, MINIMAL)
    assert code == 2
    assert "pass --overwrite to replace them" in stderr
    assert first.read_text() == "# edited\n"
    code, stderr = _generate(tmp_path, MINIMAL, "--overwrite")
    assert code == 0, stderr
    assert first.read_text().startswith("# yaml-language-server: $schema=")


def test_a_url_that_does_not_answer_is_an_infrastructure_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/openapi.json"
    result = chaosgate(tmp_path, "generate", "--openapi", url, "--out", "out")
    assert result.returncode == 3
    assert f"cannot fetch the OpenAPI document {url}" in result.stderr
    assert "Traceback" not in result.stderr
