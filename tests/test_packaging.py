"""Package metadata for PyPI and the napari hub: version, classifiers, URLs, images, changelog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import napari_blindspot
from napari_blindspot.engine.bioimageio.documentation import PROJECT_URL

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RAW = PROJECT_URL.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def test_version_and_changelog():
    assert napari_blindspot.__version__ == "0.2.0"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    section = re.search(rf"^## \[{re.escape(napari_blindspot.__version__)}\].*?(?=^## \[)", changelog,
                        re.S | re.M)
    assert section and "### Added" in section.group(0) and "bioimage.io" in section.group(0)


def test_classifiers_cover_licence_os_python_framework_and_status():
    classifiers = PYPROJECT["classifiers"]
    assert "Framework :: napari" in classifiers
    assert "License :: OSI Approved :: BSD License" in classifiers
    assert PYPROJECT["license"] == {"text": "BSD-3-Clause"}
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert any(c.startswith("Operating System ::") for c in classifiers)
    assert sum(c.startswith("Development Status ::") for c in classifiers) == 1
    lowest = int(re.fullmatch(r">=3\.(\d+)", PYPROJECT["requires-python"]).group(1))
    listed = sorted(int(c.rsplit(".", 1)[1]) for c in classifiers
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert listed and listed[0] == lowest and listed == list(range(lowest, listed[-1] + 1))


def test_project_urls_and_extras():
    urls = PYPROJECT["urls"]
    assert urls["Source"] == PROJECT_URL
    assert {"Homepage", "Bug Tracker", "Documentation", "Changelog"} <= set(urls)
    assert all(u.startswith(PROJECT_URL) for u in urls.values())
    extras = PYPROJECT["optional-dependencies"]
    assert any(d.startswith("bioimageio.core") for d in extras["bioimageio"])
    assert "bioimageio" in extras["all"][0] and "bioimageio" in extras["test"][0]
    # streamed I/O is core (the CLI reads and writes zarr); dask.distributed is an extra
    assert any(d.startswith("zarr") for d in PYPROJECT["dependencies"])
    assert any(d.startswith("distributed") for d in extras["distributed"])
    assert "distributed" in extras["all"][0] and "distributed" in extras["test"][0]


@pytest.mark.parametrize("doc", ["README.md", ".napari-hub/DESCRIPTION.md"])
def test_images_are_absolute_urls_of_files_in_the_repository(doc):
    """PyPI and the hub do not resolve relative links: images point at the repository's main
    branch, at files that exist here."""
    images = IMAGE.findall((ROOT / doc).read_text(encoding="utf-8"))
    assert images
    for url in images:
        assert url.startswith(RAW), url
        assert (ROOT / url[len(RAW):]).is_file(), url


def test_hub_config():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / ".napari-hub" / "config.yml").read_text(encoding="utf-8"))
    assert config["visibility"] == "public"
    assert 20 < len(config["summary"]) <= 256
    assert config["authors"] and all(u.startswith(PROJECT_URL) for u in config["project_urls"].values())
    assert (ROOT / ".napari-hub" / "DESCRIPTION.md").stat().st_size > 500


def _requirements() -> list[str]:
    reqs = list(PYPROJECT["dependencies"])
    for extra in PYPROJECT["optional-dependencies"].values():
        reqs += [r for r in extra if not r.startswith("napari-blindspot")]
    return reqs


def test_the_constraints_are_within_our_ranges_and_the_suite_uses_them():
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip())
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    assert "torch" not in pins and "napari-blindspot" not in pins  # the command pins torch
    checked = 0
    for text in _requirements():
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in pins:
            assert req.specifier.contains(pins[name], prereleases=True), (text, pins[name])
            checked += 1
    assert checked >= 15 and {"pydantic", "bioimageio-core", "napari", "zarr"} <= set(pins)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    second = re.findall(r"^```bash\n(.*?)\n```", readme, re.M | re.S)[1]
    assert "-c .ci/constraints.txt" in second and "python -m pytest" in second
    first = re.findall(r"^```bash\n(.*?)\n```", readme, re.M | re.S)[0]
    assert "constraints" not in first  # users get today's releases


def test_every_upper_bound_says_why():
    lines = (ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    bounded = [i for i, line in enumerate(lines) if re.match(r'\s*"[^"]*(<|==|~=)[^"]*",', line)]
    assert bounded, "the pydantic bound of the bioimageio extra is expected"
    for i in bounded:
        assert lines[i - 1].strip().startswith("#") or "#" in lines[i], lines[i]
