"""Benchmark napari-blindspot against CAREamics, side by side in one run, and write
``docs/benchmarks.md``.

    bash benchmarks/setup_careamics.sh                  # once: CAREamics in its own venv
    pip install -r benchmarks/requirements.txt          # once: scikit-image, bm3d, psutil
    python -m benchmarks.run --quick                    # a free 2-core CPU: 15-20 minutes
    python -m benchmarks.run --full                     # a GPU machine: hours
    python -m benchmarks.run --quick --only quality,speed --budget-s 30
    python -m benchmarks.run --smoke --out /tmp/b.md    # seconds; what the test suite runs

Sections (``--only``): ``quality`` (PSNR/SSIM at the same number of steps and at the same
wall-clock budget), ``speed`` (training patches/s, prediction megapixels/s, time to first
preview), ``memory`` (peak resident memory training on and predicting a large stack, each in its
own process), ``ui`` (timer-tick gaps in napari while the dock widget trains, under Xvfb).
Every figure for both tools is measured in the same run on the same machine: compare ratios,
not absolute times, across machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _runner_common as common
from . import datasets as ds
from . import metrics
from . import report

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
DEFAULT_VENV = BENCH / ".venv-careamics"
SECTIONS = ("quality", "speed", "memory", "ui")


# ======================================================================= settings
@dataclass
class Settings:
    mode: str
    steps: int
    budget_s: float
    patch_size: int = 64
    batch_size: int = 16
    set12: list[str] = field(default_factory=lambda: ["01", "02"])
    set12_crop: int | None = 256
    fluo_frames: int = 4
    fluo_size: int = 256
    fmd_fovs: list[int] = field(default_factory=lambda: [1])
    fmd_crop: int | None = 256
    fmd_stack_frames: int | None = 8
    fmd_stack_crop: int | None = 256
    datasets: list[str] = field(default_factory=lambda: ["set12", "fluo", "fmd"])
    ours_methods: list[str] = field(default_factory=lambda: ["n2v2", "hqssl"])
    care_methods: list[str] = field(default_factory=lambda: ["n2v2"])
    classical_frames: int = 2
    tile_size: int = 256
    # speed
    speed_train_size: int = 1024
    speed_steps: int = 60
    speed_image_size: int = 2048
    speed_stack: tuple[int, int] = (8, 512)
    #: methods whose prediction speed is measured (HQ-SSL predicts ~5x slower on a CPU)
    speed_predict_methods: list[str] = field(default_factory=lambda: ["n2v2"])
    preview_budget_s: float = 20.0
    preview_interval_s: float = 1.0
    # memory
    memory_stack: tuple[int, int] = (8, 1024)
    memory_steps: int = 10
    #: our prediction also runs on a stack this many times longer (same frames)
    memory_long_factor: int = 4
    # ui
    ui_seconds: float = 10.0
    seed: int = 0
    threads: int | None = None  # torch CPU threads for both tools; None: each tool's default


def make_settings(mode: str) -> Settings:
    if mode == "smoke":  # plumbing only: seconds, not meaningful figures
        return Settings(mode="smoke", steps=3, budget_s=1.0, patch_size=32, batch_size=4,
                        set12=["01"], set12_crop=128, fluo_frames=2, fluo_size=64,
                        fmd_crop=128, fmd_stack_frames=4, fmd_stack_crop=128,
                        datasets=["set12"], ours_methods=["n2v2"], care_methods=["n2v2"],
                        classical_frames=1, tile_size=256, speed_train_size=128, speed_steps=2,
                        speed_image_size=128, speed_stack=(2, 64), preview_budget_s=1.0,
                        preview_interval_s=0.2, memory_stack=(4, 128), memory_steps=2,
                        ui_seconds=3.0, threads=1)  # one thread: no OpenMP spinning on busy CI
    if mode == "quick":
        return Settings(mode="quick", steps=40, budget_s=20.0)
    if mode == "full":
        return Settings(mode="full", steps=2000, budget_s=120.0,
                        set12=sorted(ds.SET12_NAMES), set12_crop=None, fluo_frames=16,
                        fluo_size=512, fmd_fovs=list(range(1, 11)), fmd_crop=None,
                        fmd_stack_frames=None, fmd_stack_crop=None,
                        datasets=["set12", "fluo", "fmd", "fmd_stack", "bsd68", "kodak"],
                        ours_methods=["n2v", "n2v2", "hqssl"], care_methods=["n2v", "n2v2"],
                        classical_frames=5, speed_train_size=1024, speed_steps=300,
                        speed_predict_methods=["n2v", "n2v2", "hqssl"],
                        speed_image_size=2048, speed_stack=(32, 512), preview_budget_s=60.0,
                        memory_stack=(200, 1024), memory_steps=50, ui_seconds=30.0)
    raise ValueError(mode)


# ======================================================================= helpers
class Context:
    """Paths, settings, tool availability and the results being collected."""

    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.s = settings
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.results_dir = Path(args.results_dir or BENCH / "results" / f"{settings.mode}-{stamp}")
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(args.data_dir) if args.data_dir else ds.default_data_dir()
        self.device = args.device
        self.careamics_python = self._find_careamics(args)
        self.care_install: dict[str, Any] = {}
        if self.careamics_python:
            info = Path(self.careamics_python).parents[1] / "careamics-install.json"
            if info.is_file():
                self.care_install = json.loads(info.read_text())
        self.use_classical = not args.no_bm3d
        self.results: dict[str, Any] = {"settings": dataclasses.asdict(settings), "notes": [],
                                        "missing_data": []}
        self.t0 = time.perf_counter()

    def _find_careamics(self, args: argparse.Namespace) -> str | None:
        if args.no_careamics:
            self.care_reason = "disabled (--no-careamics)"
            return None
        py = Path(args.careamics_python) if args.careamics_python else DEFAULT_VENV / "bin" / "python"
        if not py.exists():
            self.care_reason = ("not installed: run `bash benchmarks/setup_careamics.sh` "
                                f"(no {py})")
            return None
        self.care_reason = ""
        return str(py)

    def log(self, msg: str) -> None:
        elapsed = time.perf_counter() - self.t0
        print(f"[benchmarks {elapsed:7.1f} s] {msg}", flush=True)

    def path(self, *parts: str) -> Path:
        p = self.results_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def save_npy(ctx: Context, rel: str, array: np.ndarray) -> str:
    p = ctx.path(rel)
    np.save(p, array)
    return str(p)


def run_ours_inprocess(ctx: Context, jobs: list[dict]) -> dict[str, dict]:
    """Our jobs, one after the other in this process (same code path as the subprocess)."""
    import torch

    from . import ours_runner

    out = {}
    threads = torch.get_num_threads()
    try:
        for job in jobs:
            ctx.log(f"napari-blindspot: {job['name']}")
            common.run_jobs([job], ours_runner.run_job, "napari-blindspot")
            out[job["name"]] = _read_record(job)
    finally:
        torch.set_num_threads(threads)  # leave the calling process as it was
    return out


def run_subprocess_jobs(ctx: Context, tool: str, jobs: list[dict], tag: str,
                        timeout_s: float) -> dict[str, dict]:
    """Run jobs with a runner script in a child process; return their records by name."""
    if not jobs:
        return {}
    if tool == "careamics":
        if not ctx.careamics_python:
            return {j["name"]: {"ok": False, "error": ctx.care_reason} for j in jobs}
        cmd = [ctx.careamics_python, str(BENCH / "careamics_runner.py")]
    else:
        cmd = [sys.executable, "-m", "benchmarks.ours_runner"]
    jobs_file = ctx.path("jobs", f"{tag}.json")
    jobs_file.write_text(json.dumps(jobs, indent=2))
    log = ctx.path("logs", f"{tag}.log")
    names = ", ".join(j["name"] for j in jobs)
    ctx.log(f"{tool} (subprocess): {names}")
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if tool != "careamics":
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        with open(log, "w") as f:
            subprocess.run(cmd + ["--jobs", str(jobs_file)], stdout=f, stderr=subprocess.STDOUT,
                           cwd=str(REPO), env=env, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        ctx.results["notes"].append(f"{tool} jobs {tag} timed out after {timeout_s:.0f} s")
    return {j["name"]: _read_record(j, log) for j in jobs}


def _read_record(job: dict, log: Path | None = None) -> dict:
    p = Path(job["out_dir"]) / f"{job['name']}.json"
    if p.is_file():
        return json.loads(p.read_text())
    tail = ""
    if log is not None and log.is_file():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
    return {"ok": False, "error": f"no result (crashed or timed out). {tail}".strip()}


def _timeout(jobs: list[dict], per_step_s: float = 6.0, extra_s: float = 300.0) -> float:
    total = extra_s
    for j in jobs:
        total += 60.0 + (j.get("budget_s") or 0) * 2 + (j.get("steps") or 0) * per_step_s
    return total


def _job(ctx: Context, name: str, section: str, **kw: Any) -> dict:
    job = {"name": name, "out_dir": str(ctx.path(section, "x").parent), "seed": ctx.s.seed,
           "patch_size": ctx.s.patch_size, "tile_size": ctx.s.tile_size,
           "device": ctx.device, "save_prediction": True, "axes": "YX",
           "threads": ctx.s.threads}
    job.update(kw)
    return job


# ======================================================================= quality
def build_units(ctx: Context) -> list[ds.Unit]:
    s, units = ctx.s, []
    wanted = ctx.args.datasets.split(",") if ctx.args.datasets else s.datasets
    for name in wanted:
        try:
            if name == "set12":
                ids = ctx.args.set12.split(",") if ctx.args.set12 else s.set12
                units += ds.set12_units(ctx.data_dir, ids, s.set12_crop, s.seed)
            elif name == "fluo":
                units.append(ds.fluorescence_unit(s.fluo_frames, s.fluo_size, s.seed))
            elif name == "fmd":
                units.append(ds.fmd_unit(ctx.data_dir, s.fmd_fovs, s.fmd_crop))
            elif name == "fmd_stack":
                units.append(ds.fmd_stack_unit(ctx.data_dir, s.fmd_stack_frames, s.fmd_stack_crop,
                                               s.classical_frames))
            elif name in ("bsd68", "kodak"):
                units += ds.published_units(ctx.data_dir, name, s.seed)
            else:
                raise ds.MissingData(f"unknown data set {name!r}")
        except ds.MissingData as exc:
            ctx.log(f"data set {name}: {exc}")
            ctx.results["missing_data"].append({"dataset": name, "reason": str(exc)})
    return units


def quality_jobs(ctx: Context, units: list[ds.Unit]) -> tuple[list[dict], list[dict]]:
    """(ours, careamics) jobs: every method, both protocols, every unit."""
    s = ctx.s
    ours, care = [], []
    for u in units:
        noisy = save_npy(ctx, f"data/{u.name}_noisy.npy", u.noisy)
        for protocol in ("steps", "time"):
            length = {"steps": s.steps} if protocol == "steps" else {"budget_s": s.budget_s}
            # (a) same steps: one patch and batch size for all; (b) same time: each tool's defaults
            batch = s.batch_size if protocol == "steps" or ctx.args.same_batch else None
            smoke = {"unet_features": 8, "hq_features": 8} if s.mode == "smoke" else {}
            methods = list(s.ours_methods)
            if u.n2n is not None:
                methods.append("n2n")
            if u.gaussian and s.mode == "full":
                methods.append("hqssl_known")
            for m in methods:
                kw: dict[str, Any] = dict(input=noisy, axes=u.axes, method=m, batch_size=batch,
                                          predict_input=[f"{noisy}:{u.axes}"], **length, **smoke)
                if m == "hqssl_known":
                    kw.update(method="hqssl", noise_model="gaussian-known", noise_sigma=u.sigma)
                if m == "n2n":
                    a, b, axes = u.n2n  # type: ignore[misc]
                    kw.update(input=save_npy(ctx, f"data/{u.name}_n2n_a.npy", a),
                              target=save_npy(ctx, f"data/{u.name}_n2n_b.npy", b), axes=axes)
                ours.append(_job(ctx, f"{u.name}__ours_{m}__{protocol}", "quality", unit=u.name,
                                 row=f"ours:{m}", protocol=protocol, **kw))
            for m in s.care_methods:
                care.append(_job(ctx, f"{u.name}__careamics_{m}__{protocol}", "quality",
                                 unit=u.name, row=f"careamics:{m}", protocol=protocol,
                                 input=noisy, axes=u.axes, method=m,
                                 batch_size=s.batch_size, **length))
    if ctx.args.methods:  # e.g. "n2v2,hqssl,careamics:n2v2" (a bare name means ours)
        keep = set(ctx.args.methods.split(","))
        ours = [j for j in ours if j["row"] in keep or j["row"].split(":")[1] in keep]
        care = [j for j in care if j["row"] in keep]
    return ours, care


def run_quality(ctx: Context) -> None:
    units = build_units(ctx)
    if not units:
        ctx.results["quality"] = {"error": "no data"}
        return
    ours_jobs, care_jobs = quality_jobs(ctx, units)
    ctx.log(f"quality: {len(units)} training unit(s), {len(ours_jobs)} napari-blindspot and "
            f"{len(care_jobs)} CAREamics training runs")
    records: dict[str, dict] = {}
    records.update(run_ours_inprocess(ctx, ours_jobs))
    records.update(run_subprocess_jobs(ctx, "careamics", care_jobs, "quality_careamics",
                                       _timeout(care_jobs)))
    per_unit: dict[str, dict[str, Any]] = {}
    for u in units:
        rows: dict[str, Any] = {}
        rows["noisy"] = {"both": metrics.evaluate(u.clean, u.noisy, u.axes, u.data_range)}
        if ctx.use_classical:
            t0 = time.perf_counter()
            frames, chan = metrics.frames_of(u.noisy, u.axes)
            idx = u.classical_frames if u.classical_frames is not None else list(range(len(frames)))
            den = np.stack([metrics.classical_denoise(frames[i], u.sigma, chan is not None)
                            for i in idx])
            clean_frames, _ = metrics.frames_of(u.clean, u.axes)
            cf = clean_frames if clean_frames.shape[0] > 1 else np.repeat(clean_frames, len(frames), 0)
            ev = metrics.evaluate(cf[idx], den, "SYXC" if chan is not None else "SYX", u.data_range)
            ev["time_s"] = time.perf_counter() - t0
            ev["sigma"] = u.sigma
            rows["classical"] = {"both": ev}
            ctx.log(f"{metrics.classical_name()} on {u.name}: {ev['psnr']:.2f} dB")
        for job in ours_jobs + care_jobs:
            if job["unit"] != u.name:
                continue
            rec = records.get(job["name"], {"ok": False, "error": "not run"})
            entry = _train_summary(rec)
            if rec.get("ok") and rec.get("predictions"):
                pred = np.load(rec["predictions"][0]["output"])
                entry.update(metrics.evaluate(u.clean, pred, u.axes, u.data_range))
                if not ctx.args.keep_predictions:
                    Path(rec["predictions"][0]["output"]).unlink(missing_ok=True)
            rows.setdefault(job["row"], {})[job["protocol"]] = entry
        per_unit[u.name] = {"dataset": u.dataset, "info": u.info, "sigma_note": u.sigma_note,
                            "rows": rows}
    ctx.results["quality"] = {"units": per_unit, "datasets": _aggregate(per_unit),
                              "classical": metrics.classical_name() if ctx.use_classical else None}


def _train_summary(rec: dict) -> dict:
    if not rec.get("ok"):
        return {"error": rec.get("error", "failed")}
    t = rec.get("train", {})
    p = (rec.get("predictions") or [{}])[0]
    return {k: t.get(k) for k in ("steps", "epochs", "batch_size", "patches", "loop_s", "total_s",
                                  "setup_s", "patches_per_s", "stop_reason", "n_parameters")} | {
        "predict_s": p.get("predict_s")}


def _aggregate(per_unit: dict[str, dict]) -> dict[str, dict]:
    """Average per-unit metrics (PSNR/SSIM per image, then the mean) by data set."""
    out: dict[str, dict] = {}
    for name, unit in per_unit.items():
        d = out.setdefault(unit["dataset"], {"units": [], "rows": {}})
        d["units"].append(name)
        for row, protos in unit["rows"].items():
            for proto, entry in protos.items():
                d["rows"].setdefault(row, {}).setdefault(proto, []).append(entry)
    for d in out.values():
        for row, protos in d["rows"].items():
            for proto, entries in list(protos.items()):
                good = [e for e in entries if "psnr" in e]
                agg: dict[str, Any] = {"n": len(good), "n_failed": len(entries) - len(good)}
                if not good:
                    agg["error"] = next((e.get("error") for e in entries if e.get("error")), "failed")
                for key in ("psnr", "ssim", "steps", "patches", "loop_s", "total_s",
                            "patches_per_s", "time_s", "predict_s", "epochs"):
                    vals = [e[key] for e in good if e.get(key) is not None]
                    if vals:
                        agg[key] = float(np.mean(vals))
                protos[proto] = agg
    return out


# ======================================================================= speed
def run_speed(ctx: Context) -> None:
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    s = ctx.s
    ctx.log("speed: generating data")
    base = fluorescence_timelapse(frames=1, size=s.speed_train_size, seed=s.seed + 11)
    train_img = base.noisy[0]
    reps = max(1, -(-s.speed_image_size // s.speed_train_size))
    clean_big = np.tile(base.clean[0], (reps, reps))[:s.speed_image_size, :s.speed_image_size]
    rng = np.random.default_rng(s.seed + 12)
    big = 4.0 * rng.poisson(clean_big / 4.0) + rng.normal(0, 3.0, clean_big.shape)
    big = np.clip(np.round(big), 0, 65535).astype(np.uint16)
    stack = fluorescence_timelapse(frames=s.speed_stack[0], size=s.speed_stack[1],
                                   seed=s.seed + 13).noisy
    p_train = save_npy(ctx, "data/speed_train.npy", train_img)
    p_big = save_npy(ctx, "data/speed_image.npy", big)
    p_stack = save_npy(ctx, "data/speed_stack.npy", stack)
    smoke = {"unet_features": 8, "hq_features": 8} if s.mode == "smoke" else {}
    common_kw = dict(input=p_train, axes="YX", steps=s.speed_steps, batch_size=s.batch_size,
                     save_prediction=False)

    def predict_kw(m: str) -> dict:
        if m in s.speed_predict_methods:
            return {"predict_input": [f"{p_big}:YX", f"{p_stack}:TYX"]}
        return {"no_predict": True}

    ours = [_job(ctx, f"speed__ours_{m}", "speed", method=m, row=f"ours:{m}", **common_kw,
                 **predict_kw(m), **smoke) for m in s.ours_methods]
    care = [_job(ctx, f"speed__careamics_{m}", "speed", method=m, row=f"careamics:{m}",
                 **common_kw, **predict_kw(m)) for m in s.care_methods]
    recs = run_ours_inprocess(ctx, ours)
    recs.update(run_subprocess_jobs(ctx, "careamics", care, "speed_careamics", _timeout(care)))
    rows = {}
    for job in ours + care:
        rec = recs[job["name"]]
        if not rec.get("ok"):
            rows[job["row"]] = {"error": rec.get("error", "failed")}
            continue
        t = rec["train"]
        preds = rec.get("predictions", [])
        rows[job["row"]] = {
            "patches_per_s": t.get("patches_per_s"),
            "step_only_patches_per_s": t.get("step_only_patches_per_s"),
            "steps": t.get("steps"), "patches": t.get("patches"), "loop_s": t.get("loop_s"),
            "setup_s": t.get("setup_s"), "n_parameters": t.get("n_parameters"),
            "epochs": t.get("epochs"), "batch_size": t.get("batch_size"),
            "predict_image": preds[0] if len(preds) > 0 else None,
            "predict_stack": preds[1] if len(preds) > 1 else None,
        }
    ctx.results["speed"] = {"rows": rows, "train_shape": list(train_img.shape),
                            "image_shape": list(big.shape), "stack_shape": list(stack.shape),
                            "preview": run_preview(ctx)}


def run_preview(ctx: Context) -> dict:
    """Time from pressing Train to the first preview, and to a preview 3 dB better than the
    noisy input (ours); CAREamics shows no preview while training."""
    s = ctx.s
    unit = ds.fluorescence_unit(s.fluo_frames, s.fluo_size, s.seed)
    noisy = save_npy(ctx, "data/preview_noisy.npy", unit.noisy)
    block = save_npy(ctx, "data/preview_block.npy", unit.noisy[0][None].astype(np.float32))
    clean0 = unit.clean[0]
    noisy_psnr = metrics.psnr(clean0, unit.noisy[0], unit.data_range)
    smoke = {"unet_features": 8, "hq_features": 8} if s.mode == "smoke" else {}
    jobs = [_job(ctx, f"preview__ours_{m}", "speed", method=m, input=noisy, axes=unit.axes,
                 budget_s=s.preview_budget_s, preview_block=block, no_predict=True,
                 preview_interval_s=s.preview_interval_s, **smoke) for m in s.ours_methods]
    recs = run_ours_inprocess(ctx, jobs)
    out: dict[str, Any] = {"noisy_psnr": noisy_psnr, "budget_s": s.preview_budget_s,
                           "interval_s": s.preview_interval_s, "rows": {}}
    for job in jobs:
        rec = recs[job["name"]]
        t = rec.get("train", {})
        if not rec.get("ok") or not t.get("previews"):
            out["rows"][job["method"]] = {"error": rec.get("error", "no preview event")}
            continue
        z = np.load(t["previews"])
        ps = [metrics.psnr(clean0, img.reshape(clean0.shape), unit.data_range) for img in z["images"]]
        times = z["times"].tolist()
        reach = next((tm for tm, p in zip(times, ps) if p >= noisy_psnr + 3.0), None)
        out["rows"][job["method"]] = {"first_s": times[0], "first_psnr": ps[0],
                                      "plus3db_s": reach, "last_psnr": ps[-1],
                                      "n_previews": len(ps), "setup_s": t.get("setup_s")}
    return out


# ======================================================================= memory
def _write_memory_stack(path: Path, frames: int, size: int, seed: int) -> None:
    """A ``frames``x``size``x``size`` uint16 fluorescence stack written frame by frame (memory-mapped)."""
    from napari_blindspot.samples.fluorescence import fluorescence_timelapse

    base = fluorescence_timelapse(frames=4, size=size, seed=seed + 21).clean
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(frames, size, size))
    rng = np.random.default_rng(seed + 22)
    for t in range(frames):
        frame = 4.0 * rng.poisson(base[t % 4] / 4.0) + rng.normal(0, 3.0, (size, size))
        mm[t] = np.clip(np.round(frame), 0, 65535)
    mm.flush()
    del mm


def run_memory(ctx: Context) -> None:
    """Peak memory training on and predicting a stack (each phase in its own process); our
    prediction also on a stack ``memory_long_factor`` times longer, to show that what it
    needs beyond its result does not grow with the stack."""
    s = ctx.s
    frames, size = s.memory_stack
    long_frames = frames * s.memory_long_factor
    path = ctx.path("data", "memory_stack.npy")
    long_path = ctx.path("data", "memory_stack_long.npy")
    ctx.log(f"memory: writing {frames}x{size}x{size} and {long_frames}x{size}x{size} uint16 stacks")
    _write_memory_stack(path, frames, size, s.seed)
    _write_memory_stack(long_path, long_frames, size, s.seed)
    smoke = {"unet_features": 8} if s.mode == "smoke" else {}
    rows: dict[str, Any] = {}
    for tool in ("ours", "careamics"):
        if tool == "careamics" and not ctx.careamics_python:
            rows[tool] = {"error": ctx.care_reason}
            continue
        model = str(ctx.path("memory", f"{tool}_model" + (".ckpt" if tool == "careamics"
                                                          else ".safetensors")))
        kw = dict(method="n2v2", axes="TYX", batch_size=s.batch_size, save_prediction=False)
        train_job = _job(ctx, f"memory__{tool}__train", "memory", input=str(path),
                         steps=s.memory_steps, save_model=model, no_predict=True, **kw,
                         **(smoke if tool == "ours" else {}))
        phases = {"predict": path}
        if tool == "ours":
            phases["predict_long"] = long_path
        rec_t = run_subprocess_jobs(ctx, tool, [train_job], f"memory_{tool}_train",
                                    _timeout([train_job], 20.0))[train_job["name"]]
        rows[tool] = {"train": _mem_summary(rec_t, "train")}
        for phase, data in phases.items():
            job = _job(ctx, f"memory__{tool}__{phase}", "memory", model=model,
                       predict_input=[f"{data}:TYX"], **kw)
            rec = (run_subprocess_jobs(ctx, tool, [job], f"memory_{tool}_{phase}", 3600.0)[job["name"]]
                   if rec_t.get("ok") else {"ok": False, "error": "training failed"})
            rows[tool][phase] = _mem_summary(rec, "predict")
    nbytes = frames * size * size
    ctx.results["memory"] = {"shape": [frames, size, size], "input_mb": nbytes * 2 / common.MB,
                             "output_float32_mb": nbytes * 4 / common.MB,
                             "long_shape": [long_frames, size, size],
                             "long_output_float32_mb": nbytes * s.memory_long_factor * 4 / common.MB,
                             "rows": rows}


def _mem_summary(rec: dict, phase: str) -> dict:
    if not rec.get("ok"):
        return {"error": rec.get("error", "failed")}
    out = {"peak_rss_mb": rec.get("peak_rss_mb"), "peak_tree_rss_mb": rec.get("peak_tree_rss_mb"),
           "rss_at_start_mb": rec.get("rss_at_start_mb"), "wall_s": rec.get("job_wall_s")}
    if phase == "train":
        t = rec.get("train", {})
        out.update(rss_before_mb=t.get("rss_before_mb"), steps=t.get("steps"),
                   time_s=t.get("total_s"))
    else:
        p = (rec.get("predictions") or [{}])[0]
        out.update(rss_before_mb=p.get("rss_before_mb"), time_s=p.get("predict_s"),
                   mpix_per_s=p.get("mpix_per_s"))
    return out


# ======================================================================= ui
def run_ui(ctx: Context) -> None:
    s = ctx.s
    try:
        import importlib.util

        if importlib.util.find_spec("napari_blindspot.widget") is None:
            ctx.results["ui"] = {"available": False,
                                 "reason": "not available: napari_blindspot.widget does not exist"}
            return
    except Exception as exc:  # pragma: no cover
        ctx.results["ui"] = {"available": False, "reason": f"not available: {exc}"}
        return
    xvfb: list[str] = []
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        found = shutil.which("xvfb-run")
        if found is None:
            ctx.results["ui"] = {"available": False,
                                 "reason": "not available: no display and no xvfb-run (apt-get "
                                           "install xvfb)"}
            return
        xvfb = [found, "-a", "-s", "-screen 0 1600x1000x24"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    results = {}
    for name, extra in (("ui", []), ("ui_no_preview", ["--no-preview"])):
        out = ctx.path("ui", f"{name}.json")
        cmd = xvfb + [sys.executable, "-m", "benchmarks.ui_responsiveness", "--seconds",
                      str(s.ui_seconds), "--json", str(out)] + extra
        ctx.log(f"ui: training in the napari dock widget{' without preview' if extra else ''}"
                f"{' under Xvfb' if xvfb else ''}")
        with open(ctx.path("logs", f"{name}.log"), "w") as f:
            try:
                subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=str(REPO), env=env,
                               timeout=s.ui_seconds + 240, check=False)
            except subprocess.TimeoutExpired:
                pass
        results[name] = (json.loads(out.read_text()) if out.is_file()
                         else {"available": False, "reason": f"failed: no result (see logs/{name}.log)"})
    ctx.results["ui"] = dict(results["ui"], without_preview=results["ui_no_preview"])


def plan(ctx: Context, sections: list[str]) -> int:
    """Print what would run (data shapes, training runs) without training anything."""
    s = ctx.s
    print(f"mode {s.mode}: sections {', '.join(sections)}; (a) {s.steps} steps of "
          f"{s.batch_size}x{s.patch_size}^2, (b) {s.budget_s:g} s per run")
    print(f"CAREamics: {ctx.careamics_python or ctx.care_reason}")
    n_budget = 0
    if "quality" in sections:
        units = build_units(ctx)
        ours, care = quality_jobs(ctx, units)
        for u in units:
            print(f"  {u.name}: {u.axes} {tuple(u.noisy.shape)} {u.noisy.dtype}, "
                  f"classical σ {u.sigma:.2f} ({u.sigma_note})")
        for j in ours + care:
            length = f"{j['steps']} steps" if j.get("steps") else f"{j['budget_s']:g} s"
            print(f"    {j['name']}: {length}, batch {j.get('batch_size') or 'default'}")
        n_budget = sum(1 for j in ours + care if j.get("budget_s"))
        print(f"quality: {len(ours)} + {len(care)} training runs, {n_budget} of them "
              f"{s.budget_s:g} s budgets (at least {n_budget * s.budget_s / 60:.0f} min)")
    for m in ctx.results["missing_data"]:
        print(f"missing: {m['dataset']}: {m['reason']}")
    return 0


# ======================================================================= main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode",
                      help="a few crops, short training: 15-20 minutes on a free 2-core CPU (default)")
    mode.add_argument("--full", action="store_const", const="full", dest="mode",
                      help="all data, long training, published settings: for a GPU machine")
    mode.add_argument("--smoke", action="store_const", const="smoke", dest="mode",
                      help="tiny inputs, a few steps, no CAREamics or BM3D: checks the plumbing")
    p.add_argument("--only", help=f"comma-separated sections out of {','.join(SECTIONS)}")
    p.add_argument("--budget-s", type=float, help="wall-clock training budget per run (protocol b)")
    p.add_argument("--steps", type=int, help="gradient steps per run (protocol a)")
    p.add_argument("--datasets", help="comma-separated: set12,fluo,fmd,fmd_stack,bsd68,kodak")
    p.add_argument("--set12", help="comma-separated Set12 image numbers, e.g. 01,02,05")
    p.add_argument("--crop", type=int, help="centre crop of Set12 and FMD images in pixels, 0 for "
                                            "the full size [quick: 256; full: 0]")
    p.add_argument("--methods", help="restrict training runs, e.g. n2v2,hqssl,careamics:n2v2")
    p.add_argument("--same-batch", action="store_true",
                   help="also use the common batch size in the same-time protocol")
    p.add_argument("--data-dir", help="folder with set12/, fmd_confocal_bpae_b/ and optionally "
                   "bsd68/, kodak/ [../shared/data]")
    p.add_argument("--out", help="the Markdown report to write [docs/benchmarks.md; "
                   "with --smoke: benchmarks.md in the results folder]")
    p.add_argument("--results-dir", help="raw results, logs, data [benchmarks/results/MODE-DATE]")
    p.add_argument("--careamics-python", help="Python of the CAREamics environment "
                   "[benchmarks/.venv-careamics/bin/python]")
    p.add_argument("--no-careamics", action="store_true", help="napari-blindspot only")
    p.add_argument("--no-bm3d", action="store_true", help="skip the classical baseline")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (both tools) [auto]")
    p.add_argument("--threads", type=int,
                   help="torch CPU threads for both tools [each tool's default: all cores]")
    p.add_argument("--plan", action="store_true",
                   help="load the data, list the training runs the quality section would do, "
                        "and exit without training")
    p.add_argument("--keep-predictions", action="store_true",
                   help="keep every denoised result as .npy in the results folder")
    args = p.parse_args(argv)
    args.mode = args.mode or "quick"
    if args.mode == "smoke":
        args.no_careamics = args.no_careamics or not args.careamics_python
        args.no_bm3d = True
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    settings = make_settings(args.mode)
    if args.budget_s:
        settings.budget_s = args.budget_s
        settings.preview_budget_s = max(settings.preview_budget_s, args.budget_s) \
            if args.mode != "smoke" else settings.preview_budget_s
    if args.steps:
        settings.steps = args.steps
    if args.crop is not None:
        settings.set12_crop = settings.fmd_crop = (args.crop or None)
    if args.threads:
        settings.threads = args.threads
    default_sections = ("quality", "speed") if args.mode == "smoke" else SECTIONS
    sections = args.only.split(",") if args.only else list(default_sections)
    bad = [x for x in sections if x not in SECTIONS]
    if bad:
        print(f"unknown section(s) {bad}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    ctx = Context(args, settings)
    if args.plan:
        return plan(ctx, sections)
    ctx.log(f"mode {args.mode}, sections {', '.join(sections)}, results in {ctx.results_dir}")
    if not ctx.careamics_python:
        ctx.log(f"CAREamics: {ctx.care_reason}")
    started = _dt.datetime.now().astimezone()
    for name, fn in (("quality", run_quality), ("speed", run_speed), ("memory", run_memory),
                     ("ui", run_ui)):
        if name in sections:
            t0 = time.perf_counter()
            try:
                fn(ctx)
            except Exception as exc:  # keep going: report what failed
                import traceback

                ctx.results[name] = {"error": f"{type(exc).__name__}: {exc}",
                                     "traceback": traceback.format_exc()}
                ctx.log(f"{name} failed: {exc}")
            ctx.results.setdefault("section_s", {})[name] = time.perf_counter() - t0
    ctx.results["total_s"] = time.perf_counter() - ctx.t0
    ctx.results["command"] = "python -m benchmarks.run " + shlex.join(argv)
    ctx.results["device"] = args.device
    ctx.results["started"] = started.isoformat(timespec="seconds")
    ctx.results["machine"] = report.machine_info()
    ctx.results["versions"] = report.versions(ctx)
    ctx.results["careamics"] = {"python": ctx.careamics_python, "reason": ctx.care_reason,
                                "install": ctx.care_install}
    (ctx.results_dir / "results.json").write_text(json.dumps(ctx.results, indent=2, default=str))
    if args.out:
        out = Path(args.out)
    elif args.mode == "smoke":  # never overwrite the published report with smoke figures
        out = ctx.results_dir / "benchmarks.md"
    else:
        out = REPO / "docs" / "benchmarks.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(ctx.results, sections) + report.kept_part(out))
    ctx.log(f"wrote {out} and {ctx.results_dir / 'results.json'} "
            f"({ctx.results['total_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
