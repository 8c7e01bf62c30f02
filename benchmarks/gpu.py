"""The GPU session, as one prepared script: ``blindspot doctor``, distributed training on NCCL,
and the benchmarks' full-mode settings on the GPU, napari-blindspot and CAREamics on the same GPU.

On a machine with the repository and a network (once)::

    python -m benchmarks.gpu prepare        # data + CAREamics wheels into benchmarks/.gpu/ (git-ignored)

On the GPU machine, in the repository's root (one command, about 9 minutes; nothing is fetched)::

    python3 -m benchmarks.gpu run --out OUT --minutes 9

``run`` installs the carried wheels into a private folder (``--target /tmp/blindspot-gpu-site``,
the global environment is left alone), then runs, each step with its share of the time and killed
when it overruns (the next steps then run on what time is left):

1. ``blindspot doctor`` (the GPU against the CPU, every method);
2. ``blindspot train --distributed`` under torchrun, one process per GPU (NCCL);
3. ``python -m benchmarks.run --full --only speed --device cuda``: training patches/s and
   prediction MP/s of N2V, N2V2 and HQ-SSL against CAREamics N2V and N2V2;
4. ``--full --only quality`` on the synthetic fluorescence stack and two Set12 images (1000
   steps, 20 s per run): the full mode's settings on the data that fit the session;
5. ``--full --only memory`` (the 200 x 1024 x 1024 stack).

It writes three files into ``OUT``: ``benchmarks_gpu.md`` (every step's report), ``results_gpu.json``
(their raw results) and ``gpu.log``.  ``run --smoke`` checks the plumbing on a CPU in a minute
or two (tiny settings, gloo, no CAREamics unless installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CARRY = REPO / "benchmarks" / ".gpu"   # git-ignored
SITE = Path(tempfile.gettempdir()) / "blindspot-gpu-site"
CAREAMICS = "careamics==0.3.5"
#: What the GPU machine's image already holds (its KINDS.md package list): `prepare` fetches
#: CAREamics and, recursively, those of its dependencies that are not here (pydantic,
#: bioimageio-core and -spec, zarr, microssim ...), as wheels for CPython 3.12 on x86-64 Linux.
PRESENT_THERE = {
    "torch", "torchvision", "lightning", "pytorch-lightning", "torchmetrics", "numpy", "scipy",
    "scikit-image", "tifffile", "matplotlib", "pillow", "psutil", "pyyaml", "xarray", "httpx",
    "httpcore", "h11", "anyio", "idna", "certifi", "requests", "urllib3", "charset-normalizer",
    "typing-extensions", "packaging", "imageio", "tqdm", "rich", "markdown-it-py", "mdurl",
    "pygments", "fsspec", "filelock", "jinja2", "markupsafe", "networkx", "sympy", "mpmath",
    "lazy-loader", "pandas", "python-dateutil", "six", "pytz", "tzdata", "click", "typer",
    "shellingham", "annotated-doc", "numba", "llvmlite", "tensorstore", "ml-dtypes", "h5py",
    "lightning-utilities", "setuptools", "attrs", "msgpack", "protobuf", "aiohttp", "frozenlist",
    "multidict", "yarl", "aiosignal", "propcache", "aiohappyeyeballs", "safetensors", "triton",
    "contourpy", "cycler", "fonttools", "kiwisolver", "pyparsing", "joblib", "threadpoolctl",
    "scikit-learn", "zipp", "wheel", "pip", "colorama", "cloudpickle", "toolz", "platformdirs",
    "typing-inspect", "mypy-extensions", "wrapt", "regex", "opencv-python-headless",
}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "manylinux_2_34_x86_64",
             "manylinux_2_31_x86_64", "manylinux_2_24_x86_64", "any"]


# ------------------------------------------------------------------ prepare (here)
def _name(requirement: str) -> str:
    import re

    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


#: The GPU machine, for the dependencies' environment markers.
MARKER_ENV = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
              "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
              "implementation_name": "cpython", "platform_python_implementation": "CPython",
              "extra": ""}


def _requires(wheel: Path) -> list[str]:
    import zipfile

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode("utf-8", "replace").splitlines()
    out = []
    for line in lines:
        if line.startswith("Requires-Dist:"):
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is None or req.marker.evaluate(MARKER_ENV):
                req.marker = None
                out.append(str(req))
    return out


def prepare(args: argparse.Namespace) -> int:
    """Copy the benchmark data and fetch CAREamics' missing wheels into ``benchmarks/.gpu``."""
    sys.path.insert(0, str(REPO))
    from benchmarks import datasets as ds

    data = CARRY / "data"
    source = Path(args.data_dir) if args.data_dir else ds.default_data_dir()
    for name in ("set12",):
        if (source / name).is_dir():
            shutil.copytree(source / name, data / name, dirs_exist_ok=True)
            print(f"copied {source / name} -> {data / name}")
    if args.no_wheels:
        return 0
    wheels = CARRY / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    todo, seen = [CAREAMICS], set()
    while todo:  # breadth first: CAREamics' own version caps come before its dependencies'
        req = todo.pop(0)
        name = _name(req)
        if name in seen or name in PRESENT_THERE:
            continue
        seen.add(name)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", "-d", str(wheels)]
        for platform in PLATFORMS:
            cmd += ["--platform", platform]
        if subprocess.run(cmd + [req]).returncode != 0:
            print(f"could not fetch {req}", file=sys.stderr)
            return 1
        new = sorted(wheels.glob(f"{name.replace('-', '_')}-*.whl"), key=os.path.getmtime)
        new = new or sorted(wheels.glob(f"{name}-*.whl"), key=os.path.getmtime)
        if new:
            todo += _requires(new[-1])
    size = sum(p.stat().st_size for p in CARRY.rglob("*") if p.is_file()) / 2**20
    print(f"{len(list(wheels.glob('*.whl')))} wheels; benchmarks/.gpu holds {size:.1f} MiB "
          "(the device tool carries at most 64 MiB with the working tree)")
    return 0


# ------------------------------------------------------------------ run (there)
class Session:
    """The run's output folder, time left, environment for the steps, and what they gave."""

    #: A step is skipped when less than this is left.
    MIN_STEP_S = 20.0

    def __init__(self, out: Path, minutes: float, smoke: bool) -> None:
        self.out, self.smoke = out, smoke
        self.deadline = time.monotonic() + 60 * minutes
        self.tmp = Path(tempfile.mkdtemp(prefix="blindspot-gpu-"))
        self.log = open(out / "gpu.log", "a", encoding="utf-8")
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        paths = [str(REPO / "src"), str(REPO)]
        if SITE.is_dir():
            paths.append(str(SITE))
        self.env["PYTHONPATH"] = os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")])
        self.results: dict = {}
        self.reports: list[str] = []

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def step(self, name: str, cmd: list[str], share_s: float) -> tuple[int | None, str]:
        """Run ``cmd``; at most ``share_s`` seconds and never past the deadline."""
        left = self.deadline - time.monotonic()
        limit = min(share_s, left)
        if limit < self.MIN_STEP_S:
            self.say(f"== {name}: skipped, {left:.0f} s left")
            self.results[name] = {"skipped": f"{left:.0f} s left"}
            return None, ""
        self.say(f"== {name} (at most {limit:.0f} s): {' '.join(cmd)}")
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=str(REPO), env=self.env, capture_output=True, text=True,
                                  timeout=limit)
            rc, text = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, text = None, f"{exc.stdout or ''}{exc.stderr or ''}\n(stopped after {limit:.0f} s)"
            text = text if isinstance(text, str) else text.decode("utf-8", "replace")
        self.log.write(text + "\n")
        self.say(f"== {name}: exit {rc} after {time.monotonic() - t0:.0f} s")
        self.results[name] = {"exit": rc, "seconds": round(time.monotonic() - t0, 1)}
        return rc, text


def _install_wheels(session: Session) -> None:
    wheels = sorted((CARRY / "wheels").glob("*.whl"))
    if not wheels or importlib.util.find_spec("careamics") is not None:
        return
    session.say(f"installing {len(wheels)} carried wheels into {SITE}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(SITE),
                    *map(str, wheels)], check=False)
    session.env["PYTHONPATH"] += os.pathsep + str(SITE)


def _careamics_args(session: Session) -> list[str]:
    probe = subprocess.run([sys.executable, "-c", "import careamics"], env=session.env,
                           capture_output=True)
    if probe.returncode == 0:
        return ["--careamics-python", sys.executable]
    session.say("CAREamics is not importable here: its rows are reported as not installed "
                "(run `python -m benchmarks.gpu prepare` where there is a network, carry "
                "benchmarks/.gpu)")
    return ["--no-careamics"]


def _bench(session: Session, name: str, args: list[str], share_s: float) -> None:
    results = session.tmp / name
    report = session.tmp / f"{name}.md"
    cmd = [sys.executable, "-m", "benchmarks.run", *args, "--results-dir", str(results),
           "--out", str(report)]
    session.step(name, cmd, share_s)
    if (results / "results.json").is_file():
        session.results[name]["results"] = json.loads((results / "results.json").read_text())
    if report.is_file():
        session.reports.append(f"# {name}\n\n" + report.read_text())


def _ddp_image(session: Session) -> Path:
    sys.path.insert(0, str(REPO / "src"))
    import numpy as np

    from napari_blindspot.io.tiff import write_tiff
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    path = session.tmp / "ddp.tif"
    sample = fluorescence_timelapse(frames=4 if session.smoke else 16, size=64 if session.smoke else 512)
    write_tiff(path, sample.noisy, "TYX", dtype=np.uint16)
    return path


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    s = Session(out, args.minutes, args.smoke)
    _install_wheels(s)
    smoke = args.smoke
    py = sys.executable
    total = 60 * args.minutes

    doctor = [py, "-m", "napari_blindspot.cli", "doctor", "--json", str(s.tmp / "doctor.json")]
    if smoke:
        doctor += ["--methods", "n2v2", "--steps", "3"]
    rc, text = s.step("doctor", doctor, 0.25 * total)
    s.reports.append("# blindspot doctor\n\n```\n" + text.strip("\n") + "\n```\n")
    if (s.tmp / "doctor.json").is_file():
        s.results["doctor"]["checks"] = json.loads((s.tmp / "doctor.json").read_text())

    import torch

    gpus = torch.cuda.device_count()
    procs = str(max(1, gpus)) if not smoke else "2"
    ddp = [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", procs, "-m",
           "napari_blindspot.cli", "train", str(_ddp_image(s)), "--method", "n2v2", "--distributed",
           "--steps", "20" if smoke else "300", "-o", str(s.tmp / "ddp.safetensors"),
           "--device", "cuda" if gpus and not smoke else "cpu"]
    rc, text = s.step("distributed", ddp, 0.1 * total)
    s.reports.append(f"# blindspot train --distributed ({procs} process(es))\n\n```\n"
                     + "\n".join(text.strip().splitlines()[-8:]) + "\n```\n")

    mode = ["--smoke"] if smoke else ["--full"]
    device = ["--device", "cpu" if smoke or not gpus else "cuda"]
    care = _careamics_args(s)
    data = ["--data-dir", str(CARRY / "data")] if (CARRY / "data").is_dir() else []
    _bench(s, "speed", mode + ["--only", "speed"] + device + care + ["--no-bm3d"], 0.3 * total)
    quality = [] if smoke else ["--datasets", "fluo,set12", "--set12", "01,02", "--steps", "1000",
                                "--budget-s", "20", "--methods", "n2v2,hqssl,careamics:n2v2"]
    _bench(s, "quality", mode + ["--only", "quality"] + device + care + data + ["--no-bm3d"]
           + quality, 0.3 * total)
    _bench(s, "memory", mode + ["--only", "memory"] + device + care, total)

    (out / "benchmarks_gpu.md").write_text("\n\n".join(s.reports), encoding="utf-8")
    (out / "results_gpu.json").write_text(json.dumps(s.results, indent=1, default=str),
                                          encoding="utf-8")
    s.say(f"wrote {out / 'benchmarks_gpu.md'}, {out / 'results_gpu.json'} and {out / 'gpu.log'}")
    shutil.rmtree(s.tmp, ignore_errors=True)
    s.log.close()
    failed = [k for k, v in s.results.items() if v.get("exit") != 0]  # failed, stopped or skipped
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("prepare", help="here: data and CAREamics wheels into benchmarks/.gpu")
    q.add_argument("--data-dir", help="the benchmark data [../shared/data]")
    q.add_argument("--no-wheels", action="store_true", help="copy the data only")
    q.set_defaults(func=prepare)
    r = sub.add_parser("run", help="there: the whole GPU session")
    r.add_argument("--out", required=True, help="folder for the three result files")
    r.add_argument("--minutes", type=float, default=9.0, help="time for everything [9]")
    r.add_argument("--smoke", action="store_true", help="tiny settings on the CPU: the plumbing")
    r.set_defaults(func=run)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
