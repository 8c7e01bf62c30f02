"""Safety suite, model packages: a bioimage.io package runs no code of its own unless the user
trusts it, fetches nothing from the internet and reads no file outside itself. Each refusal
is one line naming the reason and the fix, before anything is imported or downloaded."""

from __future__ import annotations

import os
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers_safety import Workspace, cli, one_line_error

pytest.importorskip("bioimageio.core", reason="needs the bioimageio extra")

from helpers_bioimageio import SMOOTH, foreign_package  # noqa: E402

from napari_blindspot.engine.bioimageio.trust import (CodeRefused, PackageReport,  # noqa: E402
                                                      check_package)

#: Top-level code of a hostile architecture file: it leaves a file behind when imported.
PAYLOAD = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n"


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A foreign package (built once): its architecture is its own smooth.py."""
    folder = tmp_path_factory.mktemp("pkg")
    foreign_package(folder)
    return folder / "smooth.zip"


def rewrite(source: Path, target: Path, edit: Callable[[dict], None] | None = None,
            files: dict[str, bytes] | None = None) -> Path:
    """A copy of the zip ``source`` with its rdf.yaml edited and ``files`` replaced/added."""
    with zipfile.ZipFile(source) as z:
        members = {n: z.read(n) for n in z.namelist()}
    rdf = yaml.safe_load(members["rdf.yaml"])
    if edit is not None:
        edit(rdf)
    members["rdf.yaml"] = yaml.safe_dump(rdf).encode()
    members.update(files or {})
    with zipfile.ZipFile(target, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return target


def _arch(rdf: dict) -> dict:
    return rdf["weights"]["pytorch_state_dict"]["architecture"]


def _set_weights_source(value: str) -> Callable[[dict], None]:
    def edit(rdf: dict) -> None:
        rdf["weights"]["pytorch_state_dict"]["source"] = value
    return edit


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict], None]:
    def edit(rdf: dict) -> None:
        node = rdf
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _denoise(ws: Workspace, model: Path, *extra: str) -> list[str]:
    return ["denoise", str(ws.raw), "--model", str(model), "-o", ws.path("o.tif"), *extra]


def test_package_whose_architecture_is_its_own_code_is_refused(ws, capsys, package_dir, tmp_path):
    marker = tmp_path / "ran.txt"
    pkg = rewrite(package_dir, tmp_path / "hostile.zip",
                  files={"smooth.py": (PAYLOAD.format(marker=str(marker)) + SMOOTH).encode()})
    before = ws.snapshot()
    rc, err = cli(capsys, *_denoise(ws, pkg))
    line = one_line_error(err)
    assert rc == 2 and "would run code" in line and "smooth.py" in line and "--trust-code" in line
    assert not marker.exists()
    ws.assert_unchanged(before)
    # `info` describes it without running it
    rc, out = cli(capsys, "info", pkg)
    assert rc == 0 and not marker.exists()


def test_package_that_names_a_module_to_call_is_refused(ws, capsys, package_dir, tmp_path):
    marker = tmp_path / "ran.txt"

    def edit(rdf: dict) -> None:
        rdf["weights"]["pytorch_state_dict"]["architecture"] = {
            "import_from": "os", "callable": "system", "kwargs": {"command": f"touch {marker}"}}
    pkg = rewrite(package_dir, tmp_path / "module.zip", edit)
    rc, err = cli(capsys, *_denoise(ws, pkg))
    line = one_line_error(err)
    assert rc == 2 and "'os'" in line and "--trust-code" in line
    assert not marker.exists()


def test_trusted_package_runs(ws, capsys, package_dir):
    rc, err = cli(capsys, *_denoise(ws, package_dir, "--trust-code"))
    assert rc == 0, err


def test_code_free_weights_are_chosen_when_not_trusted():
    report = PackageReport("p.zip", formats=["pytorch_state_dict", "torchscript"],
                           code=["its pytorch_state_dict weights build their network by running code"])
    assert check_package(report, trust_code=False) == "torchscript"
    assert check_package(report, trust_code=True) is None
    keras = PackageReport("k.zip", formats=["keras_hdf5"], code=["its keras_hdf5 weights can hold code"])
    with pytest.raises(CodeRefused, match="keras_hdf5"):
        check_package(keras, trust_code=False)
    own = PackageReport("o.zip", own=True, formats=["pytorch_state_dict"], code=["x"])
    assert check_package(own, trust_code=False) is None


URL = "https://example.org/weights.pt"
#: (case id, rdf edit, words the error must contain)
FIELDS: list[tuple[str, Callable[[dict], None], tuple[str, ...]]] = [
    ("weights-url", _set_weights_source(URL), ("on the internet", URL, "downloads nothing")),
    ("architecture-url", lambda rdf: _arch(rdf).update(source="https://example.org/arch.py"),
     ("https://example.org/arch.py",)),
    ("test-input-url", lambda rdf: rdf["inputs"][0]["test_tensor"].update(source="http://x.org/in.npy"),
     ("http://x.org/in.npy",)),
    ("documentation-url", _set(("documentation",), "https://x.org/README.md"), ("https://x.org/README.md",)),
    ("cover-url", _set(("covers",), ["https://x.org/cover.png"]), ("https://x.org/cover.png",)),
    ("attachment-url", _set(("attachments",), [{"source": "ftp://x.org/a.txt"}]), ("ftp://x.org/a.txt",)),
    ("weights-absolute-path", _set_weights_source("/etc/passwd"), ("outside the package", "/etc/passwd")),
    ("weights-parent-folder", _set_weights_source("../w.pt"), ("outside the package", "../w.pt")),
    ("architecture-windows-path", lambda rdf: _arch(rdf).update(source="C:\\\\x\\\\arch.py"),
     ("outside the package",)),
]


@pytest.mark.parametrize("case, edit, words", FIELDS, ids=[c[0] for c in FIELDS])
def test_package_naming_files_elsewhere_is_refused(ws, capsys, package_dir, tmp_path, case, edit, words):
    pkg = rewrite(package_dir, tmp_path / "p.zip", edit)
    before = ws.snapshot()
    for argv in (_denoise(ws, pkg), _denoise(ws, pkg, "--trust-code"), ["info", str(pkg)]):
        rc, err = cli(capsys, *argv)
        line = one_line_error(err)
        assert rc == 2, err
        for word in words:
            assert word in line, line
    ws.assert_unchanged(before)


def test_folder_package_with_a_link_leading_out_is_refused(ws, capsys, package_dir, tmp_path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(package_dir) as z:
        z.extractall(folder)
    secret = tmp_path / "secret.pt"
    os.replace(folder / "w.pt", secret)
    os.symlink(secret, folder / "w.pt")
    rc, err = cli(capsys, *_denoise(ws, folder, "--trust-code"))
    line = one_line_error(err)
    assert rc == 2 and "outside the package" in line and "w.pt" in line


def test_package_whose_description_is_not_yaml_is_one_clear_line(ws, capsys, package_dir, tmp_path):
    pkg = rewrite(package_dir, tmp_path / "bad.zip", files={"rdf.yaml": b"weights: [unclosed\n"})
    rc, err = cli(capsys, *_denoise(ws, pkg))
    line = one_line_error(err)
    assert rc == 2 and "not valid YAML" in line and "rdf.yaml" in line
