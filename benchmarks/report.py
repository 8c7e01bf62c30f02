"""Machine description, package versions and the Markdown report (``docs/benchmarks.md``)."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import sys
from typing import Any
from pathlib import Path

DATASET_TITLES = {
    "set12": "Set12, Gaussian noise σ = 25 (0..255 scale, not clipped, fixed seed)",
    "fluo": "Synthetic fluorescence stack (nuclei and filaments, Poisson-Gaussian noise)",
    "fmd": "FMD confocal BPAE nuclei, single noisy capture (capture 0) vs the avg50 ground truth",
    "fmd_stack": "FMD confocal field of view 03: the raw stack, every frame vs the avg50 ground truth",
    "bsd68": "BSD68 grayscale, Gaussian σ = 25 (published setting)",
    "kodak": "Kodak colour, Gaussian σ = 25 (published setting)",
}
ROW_NAMES = {
    "noisy": "noisy input",
    "ours:n2v": "napari-blindspot N2V",
    "ours:n2v2": "napari-blindspot N2V2",
    "ours:hqssl": "napari-blindspot HQ-SSL",
    "ours:hqssl_known": "napari-blindspot HQ-SSL (known σ)",
    "ours:n2n": "napari-blindspot Noise2Noise (pairs of independent captures)",
    "careamics:n2v": "CAREamics N2V",
    "careamics:n2v2": "CAREamics N2V2",
}
OURS_ROWS = ("ours:n2v", "ours:n2v2", "ours:hqssl", "ours:hqssl_known")
PUBLISHED = [
    ("BSD68, σ = 25", "N2V (Krull et al. 2019)", "27.71 dB"),
    ("BSD68, σ = 25", "N2V2 (Höck et al. 2022, authors' runs)", "28.31 dB"),
    ("Kodak, σ = 25", "HQ-SSL with known σ (Laine et al. 2019)", "32.45 dB"),
]

#: How to run the GPU session (benchmarks/gpu.py); its figures go to a report of their own.
GPU_SECTION = [
    "### GPU: `benchmarks/gpu.py` (not run yet: no GPU was lent)",
    "",
    "The whole GPU session as one prepared command: `blindspot doctor` (every method on the GPU "
    "against the CPU), `blindspot train --distributed` under torchrun on NCCL, and this "
    "benchmark's full-mode settings on the GPU with CAREamics on the same GPU: speed (training "
    "patches/s and prediction MP/s of N2V, N2V2 and HQ-SSL against CAREamics N2V and N2V2, "
    "`--full --only speed --device cuda`), quality on the fluorescence stack and two Set12 images "
    "(1000 steps and 20 s per run), and memory on the 200-frame stack; each step gets a share of "
    "the time and is stopped when it overruns. It writes `benchmarks_gpu.md`, `results_gpu.json` "
    "and `gpu.log`.",
    "",
    "```bash",
    "python -m benchmarks.gpu prepare                     # once, with a network: Set12 and "
    "CAREamics' missing wheels into benchmarks/.gpu/ (34 MiB)",
    "python3 -m benchmarks.gpu run --out OUT --minutes 9  # on the GPU machine, benchmarks/.gpu "
    "carried along; fetches nothing",
    "python -m benchmarks.gpu run --smoke --out /tmp/gpu  # the plumbing on a CPU, 1-2 minutes",
    "```",
    "",
]


# ======================================================================= machine, versions
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count()
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem_gb = int(line.split()[1]) / 1024 / 1024
                    break
    except OSError:
        pass
    gpus: list[str] = []
    try:
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:
        pass
    if not gpus and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
            gpus = [ln.strip() for ln in out.stdout.splitlines() if ln.strip()]
        except Exception:
            pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "memory_gb": mem_gb, "gpus": gpus, "os": platform.platform(),
            "python": sys.version.split()[0]}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def versions(ctx: Any) -> dict[str, Any]:
    ours = {name: _version(name) for name in ("napari-blindspot", "torch", "numpy", "scikit-image",
                                              "bm3d", "scipy", "napari")}
    try:
        import torch

        ours["torch_threads"] = torch.get_num_threads()
        from napari_blindspot.engine.system.device import autocast_dtype

        dtype = autocast_dtype(torch.device(ctx.device if ctx.device not in (None, "auto") else
                                            ("cuda" if torch.cuda.is_available() else "cpu")))
        ours["convolutions"] = ("bfloat16" if dtype == torch.bfloat16 else
                                "float16" if dtype == torch.float16 else "float32") + ", channels-last"
    except Exception:
        pass
    return {"ours": ours, "careamics": dict(ctx.care_install)}


# ======================================================================= formatting
def f(x: Any, nd: int = 2, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return f"{x}{unit}"
    try:
        return f"{float(x):.{nd}f}{unit}"
    except (TypeError, ValueError):
        return str(x)


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in r) + " |"
            for r in rows]
    return "\n".join(out)


def _err(entry: dict | None) -> str:
    msg = str((entry or {}).get("error") or "not run")
    msg = msg.splitlines()[0] if msg else "failed"
    return msg if len(msg) < 90 else msg[:87] + "…"


def _failed(entry: dict | None) -> str:
    msg = _err(entry)
    if msg.startswith(("disabled", "not installed", "not run")):
        return f"not run: {msg}"
    return f"failed: {msg}"


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


# ======================================================================= sections
def _quality(res: dict) -> tuple[str, dict]:
    q = res.get("quality") or {}
    s = res["settings"]
    if "error" in q and "datasets" not in q:
        return f"Quality was not measured: {q['error']}\n", {}
    lines = [
        "Every self-supervised method trains on the noisy data itself (the clean image is used "
        "only for scoring), from scratch, once with **(a) the same number of gradient steps and "
        f"batch size** ({s['steps']} steps of {s['batch_size']} patches of {s['patch_size']}×"
        f"{s['patch_size']}) and once with **(b) the same wall-clock training budget** "
        f"({f(s['budget_s'], 0)} s of training loop per run, each tool with its own defaults for "
        "the method, e.g. HQ-SSL's batch of 4). PSNR and SSIM are computed per image (per frame "
        "for stacks) and averaged; PSNR is implemented in `benchmarks/metrics.py`, SSIM is "
        "scikit-image's. Nothing is clipped.",
        "",
    ]
    classical = q.get("classical")
    for dname, d in (q.get("datasets") or {}).items():
        lines.append(f"### {DATASET_TITLES.get(dname, dname)}")
        lines.append("")
        units = [q["units"][u] for u in d["units"]]
        desc = "; ".join(
            (u["info"].get("image") or u["info"].get("desc")
             or "shape " + "×".join(map(str, u["info"].get("shape", []))))
            for u in units)
        sig = units[0].get("sigma_note", "") if units else ""
        n2n = units[0]["info"].get("n2n") if units else None
        base = f"{classical}, {sig}" if classical else "not run"
        lines.append(f"Trained on: {desc}. Classical baseline: {base}."
                     + (f" {n2n}." if n2n else ""))
        lines.append("")
        header = ["Method", f"PSNR (a) {s['steps']} steps", "SSIM (a)", "train s (a)",
                  f"PSNR (b) {f(s['budget_s'], 0)} s", "SSIM (b)", "steps in (b)",
                  "patches seen (b)"]
        rows = []
        order = ["noisy", "classical"] + [r for r in ROW_NAMES if r not in ("noisy",)]
        for key in order:
            entry = d["rows"].get(key)
            if entry is None:
                continue
            name = ROW_NAMES.get(key, classical if key == "classical" else key)
            if key == "classical":
                name = f"{classical} ({'true' if sig.startswith('true') else 'oracle'} σ)"
            if "both" in entry:
                b = entry["both"]
                extra = f"{f(b.get('time_s'), 1)} (no training)" if key == "classical" else "—"
                rows.append([name, f(b.get("psnr")), f(b.get("ssim"), 3), extra, f(b.get("psnr")),
                             f(b.get("ssim"), 3), "—", "—"])
                continue
            a, bb = entry.get("steps") or {}, entry.get("time") or {}
            cells = [name]
            for proto, e in (("a", a), ("b", bb)):
                if "psnr" not in e:
                    cells += [f"{_failed(e)}", "—"] + (["—"] if proto == "a" else ["—", "—"])
                    continue
                if proto == "a":
                    cells += [f(e.get("psnr")), f(e.get("ssim"), 3), f(e.get("total_s"), 1)]
                else:
                    cells += [f(e.get("psnr")), f(e.get("ssim"), 3), f(e.get("steps"), 0),
                              f(e.get("patches"), 0)]
            rows.append(cells)
        lines.append(table(header, rows))
        lines.append("")
        if d["units"] and len(d["units"]) > 1:
            lines.append(_per_image(q, d["units"]))
            lines.append("")
    return "\n".join(lines), q.get("datasets") or {}


def _per_image(q: dict, names: list[str]) -> str:
    keys = [k for k in ROW_NAMES if any(k in q["units"][n]["rows"] for n in names) and k != "noisy"]
    header = ["Image", "noisy"] + [f"{ROW_NAMES[k].replace('napari-blindspot', 'ours')} (b)"
                                   for k in keys]
    rows = []
    for n in names:
        u = q["units"][n]
        r = [u["info"].get("image", n), f(_get(u, "rows", "noisy", "both", "psnr"))]
        for k in keys:
            r.append(f(_get(u, "rows", k, "time", "psnr")))
        rows.append(r)
    return ("<details><summary>PSNR per image, same-time protocol (b)</summary>\n\n"
            + table(header, rows) + "\n\n</details>")


def _speed(res: dict) -> str:
    sp = res.get("speed") or {}
    s = res["settings"]
    if "rows" not in sp:
        return f"Speed was not measured: {sp.get('error', 'not run')}\n"
    lines = [f"**Training throughput**: {s['speed_steps']} steps of {s['batch_size']} patches of "
             f"{s['patch_size']}×{s['patch_size']} on a {'×'.join(map(str, sp['train_shape']))} "
             "fluorescence image. *patches/s* counts the patches actually trained on over the "
             "whole training loop (validation and, for CAREamics, epoch ends and checkpoints "
             "included); *steps only* times the optimisation steps alone.", ""]
    rows = []
    for key, r in sp["rows"].items():
        if "error" in r:
            rows.append([ROW_NAMES.get(key, key), f"{_failed(r)}", "—", "—", "—", "—"])
            continue
        rows.append([ROW_NAMES.get(key, key), f(r.get("n_parameters"), 0), f(r.get("steps"), 0),
                     f(r.get("patches"), 0), f(r.get("patches_per_s"), 1),
                     f(r.get("step_only_patches_per_s"), 1)])
    lines.append(table(["Method", "parameters", "steps", "patches", "patches/s",
                        "patches/s (steps only)"], rows))
    lines += ["", f"**Prediction throughput** (tiles of {s['tile_size']}, each tool's default "
              "overlap and tile batch; megapixels of input per second, reading included): a "
              f"{'×'.join(map(str, sp['image_shape']))} image and a "
              f"{'×'.join(map(str, sp['stack_shape']))} stack.", ""]
    rows = []
    for key, r in sp["rows"].items():
        if "error" in r:
            rows.append([ROW_NAMES.get(key, key), "—", "—", "—", "—"])
            continue
        pi, ps = r.get("predict_image") or {}, r.get("predict_stack") or {}
        if not pi and not ps:
            continue  # prediction speed not measured for this method in this mode
        rows.append([ROW_NAMES.get(key, key), f(pi.get("mpix_per_s")), f(pi.get("predict_s"), 1),
                     f(ps.get("mpix_per_s")), f(ps.get("predict_s"), 1)])
    lines.append(table(["Method", "image MP/s", "image s", "stack MP/s", "stack s"], rows))
    pv = sp.get("preview") or {}
    lines += ["", "**Time to first usable preview**: seconds from pressing *Train* (building the "
              "training run included) to the first preview of frame 0 of the fluorescence stack, "
              f"and to the first preview at least 3 dB better than the noisy frame "
              f"({f(pv.get('noisy_psnr'))} dB); previews every {f(pv.get('interval_s'), 1)} s, "
              f"{f(pv.get('budget_s'), 0)} s budget.", ""]
    rows = []
    for m, r in (pv.get("rows") or {}).items():
        if "error" in r:
            rows.append([ROW_NAMES.get(f"ours:{m}", m), f"{_failed(r)}", "—", "—", "—"])
            continue
        rows.append([ROW_NAMES.get(f"ours:{m}", m), f(r.get("first_s"), 1), f(r.get("first_psnr")),
                     f(r.get("plus3db_s"), 1) if r.get("plus3db_s") is not None else "not reached",
                     f(r.get("last_psnr"))])
    care = _get(res, "quality", "datasets", "fluo", "rows", "careamics:n2v2", "time")
    if care and care.get("total_s") is not None:
        first = (care.get("total_s") or 0) + (care.get("predict_s") or 0)
        rows.append(["CAREamics N2V2", "no preview while training", "—",
                     f"first result after training + prediction: {f(first, 1)} s "
                     "(same-time run, fluorescence)", f(care.get("psnr"))])
    else:
        rows.append(["CAREamics N2V2", "no preview while training", "—", "—", "—"])
    lines.append(table(["Method", "first preview s", "its PSNR", "+3 dB s", "last preview PSNR"],
                       rows))
    return "\n".join(lines)


def _working_mb(mem: dict, phase: dict, long: bool) -> float | None:
    """Peak memory of a prediction beyond what it started with, its float32 result and its
    (memory-mapped, so resident once read) uint16 input: what tiling and the network need."""
    if phase.get("peak_rss_mb") is None or phase.get("rss_before_mb") is None:
        return None
    out = mem["long_output_float32_mb"] if long else mem["output_float32_mb"]
    return phase["peak_rss_mb"] - phase["rss_before_mb"] - out - out / 2


def _memory(res: dict) -> str:
    m = res.get("memory") or {}
    if "rows" not in m:
        return f"Memory was not measured: {m.get('error', 'not run')}\n"
    shape = "×".join(map(str, m["shape"]))
    long = "×".join(map(str, m.get("long_shape", [])))
    lines = [f"A {shape} uint16 stack ({f(m['input_mb'], 0)} MB on disk as `.npy`; its float32 "
             f"result is {f(m['output_float32_mb'], 0)} MB). Each phase runs in its own process: "
             f"N2V2 training for {res['settings']['memory_steps']} steps on the whole stack (then "
             "the model is saved), and "
             "prediction of the whole stack from the saved model; our engine also predicts a "
             f"{long} stack of the same frames (*predict_long*). *Working MB* is the peak minus "
             "the memory before the phase, minus the float32 result and the uint16 input (resident "
             "once read): what tiling and the network need. Our engine reads the `.npy` "
             "memory-mapped; CAREamics gets the same memory-mapped array through its API. "
             "*Peak RSS* is the process's own high-water mark (`VmHWM`); *with workers* adds the "
             "data-loader worker processes' proportional set size (their pages shared with the "
             "main process counted once), sampled every 100 ms.", ""]
    rows = []
    for tool, r in m["rows"].items():
        name = "napari-blindspot" if tool == "ours" else "CAREamics"
        if "error" in r:
            rows.append([name, "—", f"not measured: {_err(r)}", "—", "—", "—", "—", "—"])
            continue
        for phase in ("train", "predict", "predict_long"):
            if phase not in r:
                continue
            e = r.get(phase) or {}
            if "error" in e:
                rows.append([name, phase, f"{_failed(e)}", "—", "—", "—", "—", "—"])
                continue
            working = _working_mb(m, e, phase == "predict_long") if phase != "train" else None
            rows.append([name, phase, f(e.get("rss_at_start_mb"), 0), f(e.get("rss_before_mb"), 0),
                         f(e.get("peak_rss_mb"), 0), f(e.get("peak_tree_rss_mb"), 0),
                         f(working, 0) if working is not None else "—", f(e.get("time_s"), 1)])
    lines.append(table(["Tool", "phase", "RSS after imports MB", "RSS before phase MB",
                        "peak RSS MB", "peak with workers MB", "working MB", "time s"], rows))
    return "\n".join(lines)


def _ui(res: dict) -> str:
    u = res.get("ui") or {}
    if not u.get("available"):
        return f"UI responsiveness: {u.get('reason', 'not measured')}.\n"
    t, i = u.get("training") or {}, u.get("idle") or {}
    lines = [f"napari with the dock widget training {u.get('method')} on a "
             f"{'×'.join(map(str, u.get('image_shape', [])))} stack for {f(u.get('seconds'), 0)} s "
             f"under Xvfb; a {u.get('tick_ms')} ms QTimer on the main thread records its ticks. "
             "*Longest at* is when the longest gap began: seconds after the Train click was "
             "handled (training row) or after training ended (last row). The click's own "
             "handling (checking the settings, adding the transparent preview layer) took "
             f"{f(u.get('click_ms'), 0)} ms: the response to the click, before training starts "
             "in the background.", ""]
    a = u.get("after_training") or {}
    n = (u.get("without_preview") or {}).get("training") or {}
    rows = []
    for label, e in (("idle", i), ("training", t), ("training, live preview off", n),
                     ("after training (the widget denoises)", a)):
        if not e:
            continue
        at = f(e.get("max_gap_at_s"), 1)
        rows.append([label, f(e.get("ticks"), 0), f(e.get("median_gap_ms"), 1),
                     f(e.get("p99_gap_ms"), 1), f(e.get("max_gap_ms"), 1),
                     at if e.get("max_gap_at_s") is not None else "—",
                     f(e.get("gaps_over_50ms"), 0)])
    lines.append(table(["", "ticks", "median gap ms", "p99 gap ms", "longest gap ms",
                        "longest at s", "gaps > 50 ms"], rows))
    lines += ["", "Where the main thread spends the longer gaps: "
              "`xvfb-run -a python -m benchmarks.ui_responsiveness --seconds 10 --json ui.json "
              "--trace-stalls` records its Python stack during every gap over 40 ms and every "
              "garbage collection over 10 ms. In our runs the gaps over 40 ms during training were "
              "repaints (the main thread inside Qt's paint of the window, no Python of ours): under "
              "Xvfb, Mesa renders napari's OpenGL canvas and composes the window in software, on "
              "the core the training thread leaves free, and each preview update redraws it."]
    return "\n".join(lines)


def _targets(res: dict, qd: dict) -> str:
    rows = []

    def status(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "**missed**")

    for dname in ("set12", "fluo"):
        d = qd.get(dname, {}).get("rows", {})
        ours = [(k, _get(d, k, "time", "psnr")) for k in OURS_ROWS]
        ours = [(k, v) for k, v in ours if v is not None]
        care = _get(d, "careamics:n2v2", "time", "psnr")
        if ours and care is not None:
            k, v = max(ours, key=lambda kv: kv[1])
            diff = v - care
            rows.append([f"{dname}: our best beats CAREamics N2V2 by ≥ 1 dB at the same budget",
                         f"{ROW_NAMES[k]} {f(v)} dB vs {f(care)} dB: {diff:+.2f} dB",
                         status(diff >= 1.0)])
        else:
            rows.append([f"{dname}: our best beats CAREamics N2V2 by ≥ 1 dB at the same budget",
                         "—", status(None)])
    for dname in ("set12", "bsd68", "kodak"):
        d = qd.get(dname, {}).get("rows", {})
        hq, n2 = _get(d, "ours:hqssl", "steps", "psnr"), _get(d, "ours:n2v2", "steps", "psnr")
        if hq is None and dname != "set12":
            continue
        if hq is not None and n2 is not None:
            rows.append([f"{dname}: HQ-SSL beats our N2V2 by ≥ 0.5 dB at the same steps",
                         f"{f(hq)} vs {f(n2)} dB: {hq - n2:+.2f} dB", status(hq - n2 >= 0.5)])
        else:
            rows.append([f"{dname}: HQ-SSL beats our N2V2 by ≥ 0.5 dB at the same steps", "—",
                         status(None)])
    sp = _get(res, "speed", "rows") or {}
    o, c = sp.get("ours:n2v2") or {}, sp.get("careamics:n2v2") or {}
    tr_o, tr_c = o.get("patches_per_s"), c.get("patches_per_s")
    if tr_o and tr_c:
        rows.append(["Training throughput ≥ 2× CAREamics (N2V2, same patch and batch size)",
                     f"{f(tr_o, 1)} vs {f(tr_c, 1)} patches/s: {tr_o / tr_c:.2f}×",
                     status(tr_o / tr_c >= 2)])
    else:
        rows.append(["Training throughput ≥ 2× CAREamics", "—", status(None)])
    for what, key in (("image", "predict_image"), ("stack", "predict_stack")):
        po, pc = _get(o, key, "mpix_per_s"), _get(c, key, "mpix_per_s")
        if po and pc:
            rows.append([f"Prediction throughput ≥ 2× CAREamics ({what})",
                         f"{f(po)} vs {f(pc)} MP/s: {po / pc:.2f}×", status(po / pc >= 2)])
        else:
            rows.append([f"Prediction throughput ≥ 2× CAREamics ({what})", "—", status(None)])
    mem = res.get("memory") or {}
    mo, mc = _get(mem, "rows", "ours", "predict"), _get(mem, "rows", "careamics", "predict")
    ml = _get(mem, "rows", "ours", "predict_long")
    if mo and ml and _working_mb(mem, mo, False) is not None and _working_mb(mem, ml, True) is not None:
        w_short, w_long = _working_mb(mem, mo, False), _working_mb(mem, ml, True)
        grown = mem["long_output_float32_mb"] - mem["output_float32_mb"]
        rows.append(["Prediction memory bounded by the tiles in flight, not by the stack",
                     f"working memory {f(w_short, 0)} MB for {mem['shape'][0]} frames, "
                     f"{f(w_long, 0)} MB for {mem['long_shape'][0]} frames (results "
                     f"{f(mem['output_float32_mb'], 0)} and {f(mem['long_output_float32_mb'], 0)} MB)",
                     status(w_long - w_short <= 0.1 * grown)])
        if mc and mc.get("peak_rss_mb"):
            rows.append(["Prediction peak memory well below CAREamics' (≤ 0.5×)",
                         f"{f(mo['peak_rss_mb'], 0)} vs {f(mc['peak_rss_mb'], 0)} MB (process peaks): "
                         f"{mo['peak_rss_mb'] / mc['peak_rss_mb']:.2f}×",
                         status(mo["peak_rss_mb"] <= 0.5 * mc["peak_rss_mb"])])
        else:
            rows.append(["Prediction peak memory well below CAREamics'", "—", status(None)])
    else:
        rows.append(["Prediction memory bounded by the tiles in flight", "—", status(None)])
    ui = res.get("ui") or {}
    gap = _get(ui, "training", "max_gap_ms")
    gap_off = _get(ui, "without_preview", "training", "max_gap_ms")
    rows.append(["Longest UI stall during training < 50 ms",
                 (f"{f(gap, 1)} ms" + (f" (live preview off: {f(gap_off, 1)} ms)" if gap_off else ""))
                 if gap is not None else ui.get("reason", "—"),
                 status(gap < 50 if gap is not None else None)])
    return table(["Target", "Measured", "Status"], rows)


def _notes(res: dict) -> str:
    s = res["settings"]
    care = res.get("careamics") or {}
    inst = care.get("install") or {}
    notes = []
    if care.get("python"):
        shim = (" torchvision runs without its compiled operators (a start-up shim declares the "
                "two it needs at import; PyPI's torchvision is built against CUDA torch): "
                "CAREamics' N2V/N2V2 do not use them."
                if inst.get("torchvision_cpu_shim") else "")
        notes.append(
            f"CAREamics {inst.get('careamics', '?')} runs in its own virtual environment "
            f"(`benchmarks/.venv-careamics`, torch {inst.get('torch', '?')}, Lightning "
            f"{inst.get('lightning', '?')}), called through its public API "
            "(`CAREamist`, `create_advanced_n2v_config`) in a subprocess by "
            "`benchmarks/careamics_runner.py`. Its own defaults are kept (U-Net depth 2 with 32 "
            "initial channels, Adam at 1e-3 with ReduceLROnPlateau, 0.2% masked pixels, 8 "
            "validation patches, flips and rotations, its data-loader worker count); only patch "
            "size, batch size, the stopping rule (`max_steps` or `max_time`) and the seed are set. "
            "CAREamics is installed with torch pinned: every 0.3.x release caps torchvision at a "
            "version that pins an older torch, so pip cannot resolve it together with torch "
            f"{inst.get('torch', '2.13')}; `setup_careamics.sh` installs CAREamics without "
            "dependencies, then its dependency list with torch pinned." + shim)
        notes.append(
            "An epoch in CAREamics is one pass of non-overlapping patches, minus its validation "
            "patches, so on a 256×256 image with 64×64 patches an epoch is a single batch of 8 "
            "patches (not 16), followed by validation and a checkpoint; the *patches seen* column "
            "shows what each run actually trained on.")
    else:
        notes.append(f"CAREamics: {care.get('reason') or 'not run'}; its rows are missing.")
    conv = (res.get("versions") or {}).get("ours", {}).get("convolutions")
    if conv:
        notes.append(f"napari-blindspot ran its convolutions in {conv} here (its default, "
                     "`mixed_precision=True`: bfloat16 where the CPU computes it natively, as with "
                     "AVX512-BF16 or AMX, or on a GPU; losses, noise models and posteriors in "
                     "float32); CAREamics ran its own default, float32. Quality is compared in the "
                     "tables above under exactly these settings.")
    for m in res.get("missing_data") or []:
        notes.append(f"Data set `{m['dataset']}` skipped: {m['reason']}.")
    notes += list(res.get("notes") or [])
    if s["mode"] != "full":
        notes.append(f"This is the **{s['mode']}** mode: short training on small crops, meant to "
                     "compare the tools on a CPU, not to reach the published numbers.")
    return "\n".join(f"- {n}" for n in notes)


def render(res: dict, sections: list[str]) -> str:
    m, v, s = res["machine"], res["versions"], res["settings"]
    gpus = ", ".join(m.get("gpus") or []) or "none"
    ov, cv = v.get("ours", {}), v.get("careamics", {})
    vers = ", ".join(f"{k} {val}" for k, val in ov.items() if val is not None)
    cvers = (", ".join(f"{k} {cv[k]}" for k in ("careamics", "torch", "lightning", "torchvision")
                       if cv.get(k)) or "not installed")
    skipped = f"Not run in this invocation (sections: {', '.join(sections)})."
    quality_md, qd = _quality(res) if "quality" in sections else (skipped, {})
    parts = [
        "# Benchmarks: napari-blindspot vs CAREamics",
        "",
        "<!-- Written by `python -m benchmarks.run`; do not edit by hand, run it again. -->",
        "",
        f"- **Command**: `{res['command']}`",
        f"- **Date**: {res['started']} (took {res['total_s'] / 60:.1f} min)",
        f"- **Machine**: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
        f"{f(m.get('memory_gb'), 0)} GB RAM, GPU: {gpus}; {m['os']}",
        f"- **napari-blindspot environment**: Python {m['python']}, {vers}",
        f"- **CAREamics environment**: {cvers}",
        f"- **Settings**: mode {s['mode']}; (a) {s['steps']} steps, batch {s['batch_size']}, "
        f"patch {s['patch_size']}; (b) {f(s['budget_s'], 0)} s per training run; tiles "
        f"{s['tile_size']}; seed {s['seed']}; device `{res.get('device', 'auto')}`; torch CPU "
        f"threads {s.get('threads') or 'each tool default (all cores)'}",
        "",
        ("**Smoke mode: tiny inputs and networks to check the plumbing; these figures mean "
         "nothing.**\n\n" if s["mode"] == "smoke" else "")
        + "All figures below were measured in this one run, on this machine, for both tools: "
        "compare ratios, not absolute times, across machines. Raw numbers: `results.json` in "
        "the run's results folder.",
        "",
        "## Targets",
        "",
        _targets(res, qd),
        "",
        "## Denoising quality",
        "",
        quality_md,
        "",
        "## Speed",
        "",
        _speed(res) if "speed" in sections else skipped,
        "",
        "## Memory",
        "",
        _memory(res) if "memory" in sections else skipped,
        "",
        "Streamed prediction to OME-Zarr and TIFF (stacks of 0.25 and 1 GB against the in-memory "
        "path) and dask.distributed against one process: "
        "[benchmarks_streaming.md](benchmarks_streaming.md) (`python -m benchmarks.streaming`).",
        "",
        "## UI responsiveness",
        "",
        _ui(res) if "ui" in sections else skipped,
        "",
        "## Notes",
        "",
        _notes(res),
        "",
        "## Reproducing",
        "",
        "```bash",
        "bash benchmarks/setup_careamics.sh            # CAREamics in benchmarks/.venv-careamics",
        "pip install -r benchmarks/requirements.txt    # scikit-image, bm3d, Pillow",
        "python -m benchmarks.run --quick              # CPU, small crops, short training",
        "python -m benchmarks.run --full --data-dir DIR   # GPU: all data, published settings",
        "```",
        "",
        "`--full` trains on every Set12 image at full size, all ten FMD fields of view, the whole "
        "50-frame FMD stack, and, when `DIR` holds them, BSD68 (`DIR/bsd68/`, 68 grayscale "
        "images) and Kodak (`DIR/kodak/`, 24 colour images) with Gaussian σ = 25 — the settings "
        "of the published figures below (BSD68 and Kodak are not in the shared data and cannot "
        "be downloaded here; the run says so when they are missing). The published methods "
        "trained on separate, large training sets; here every method trains on the noisy test "
        "images themselves, so expect lower numbers.",
        "",
        table(["Data", "Method (paper)", "Published PSNR"], [list(p) for p in PUBLISHED]),
        "",
        *GPU_SECTION,
    ]
    return "\n".join(parts)


#: Everything from this line on in an existing report is kept when the report is written again
#: (sections written by other benchmarks, e.g. ``benchmarks.yardstick``).
KEEP_MARKER = "<!-- Sections below are written by other benchmarks and kept when benchmarks.run rewrites this file. -->"


def kept_part(path: Path) -> str:
    """The part of an existing report at ``path`` from :data:`KEEP_MARKER` on ('' if none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    at = text.find(KEEP_MARKER)
    return "" if at < 0 else "\n" + text[at:]
