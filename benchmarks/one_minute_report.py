"""The tables and the figure of :mod:`benchmarks.one_minute` (written into docs/performance.md
between the ``<!-- generated:one_minute_* -->`` markers; the prose around them is by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .doc_blocks import BEGIN, END, replace_block

VARIANTS = ("plain", "tta4", "tta8")
LABELS = {"plain": "one pass", "tta4": "4 rotations", "tta8": "8 transforms (the default again)"}


def _curve_rows(res: dict) -> dict[int, dict[str, list[float]]]:
    """steps -> variant -> PSNR of every image measured at that length."""
    rows: dict[int, dict[str, list[float]]] = {}
    for key, entry in res.get("curve", {}).items():
        name, steps = key.rsplit("|", 1)
        if not name.startswith("fmd"):
            continue
        for v in VARIANTS:
            if v in entry:
                rows.setdefault(int(steps), {}).setdefault(v, []).append(entry[v])
    return dict(sorted(rows.items()))


def quiet_seconds(res: dict, steps: int, variant: str) -> float | None:
    """Preparation + ``steps`` training steps + the prediction of ``variant`` on a quiet CPU
    (the minimum timings of ``speed``), or None before ``speed`` ran."""
    sp = res.get("speed")
    if not sp:
        return None
    return sp["prepare_s"] + steps * sp["s_per_step"] + sp["predict_s"][variant]


def curve_table(res: dict) -> str:
    rows = _curve_rows(res)
    if not rows:
        return "(no measurement yet: `python -m benchmarks.one_minute curve`)"
    head = "| training steps | images | " + " | ".join(
        f"{LABELS[v]}: mean dB / quiet s" for v in VARIANTS) + " |"
    out = [head, "|" + "---|" * (2 + len(VARIANTS))]
    for steps, by in rows.items():
        cells = []
        for v in VARIANTS:
            vals = by.get(v, [])
            q = quiet_seconds(res, steps, v)
            cells.append(("—" if not vals else f"{np.mean(vals):.2f}")
                         + ("" if q is None else f" / {q:.0f}"))
        n = max(len(x) for x in by.values())
        out.append(f"| {steps} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def per_image_table(res: dict) -> str:
    entries = sorted(res.get("curve", {}).items(), key=lambda kv: (kv[0].rsplit("|", 1)[0],
                                                                     int(kv[0].rsplit("|", 1)[1])))
    if not entries:
        return ""
    out = ["| image | steps | noisy | " + " | ".join(LABELS[v] for v in VARIANTS)
           + " | best step | load (1 min) |", "|" + "---|" * (6 + len(VARIANTS) - 1)]
    for key, e in entries:
        name, steps = key.rsplit("|", 1)
        out.append(f"| {name} | {steps} | {e['noisy']:.2f} | "
                   + " | ".join(f"{e[v]:.2f}" if v in e else "—" for v in VARIANTS)
                   + f" | {e.get('best_step', '—')} | {e.get('load', float('nan')):.1f} |")
    return "\n".join(out)


def speed_text(res: dict) -> str:
    sp = res.get("speed")
    if not sp:
        return "(no timing yet: `python -m benchmarks.one_minute speed`)"
    p = sp["predict_s"]
    return (f"Timed {sp['date']} on a 512x512 FMD field with {sp['threads']} threads, minimum of "
            f"repeats, 1-minute load average {sp['load']:.1f} at the end: "
            f"{sp['s_per_step']:.3f} s a training step ({1 / sp['s_per_step']:.1f} steps/s), "
            f"{sp['prepare_s']:.1f} s of preparation; prediction {p['plain']:.1f} s (one pass), "
            f"{p['tta4']:.1f} s (4 rotations), {p['tta8']:.1f} s (8 transforms)"
            + (f"; without the rotations' shared network pass {p['tta4_unshared']:.1f} s and "
               f"{p['tta8_unshared']:.1f} s" if "tta8_unshared" in p else "") + ".")


def figure(res: dict, path: Path, size: tuple[int, int] = (640, 400)) -> bool:
    """PSNR (mean over the FMD fields) against quiet seconds (against steps before ``speed``
    ran), one line per prediction variant, drawn with PIL; the target (39.5 dB, 60 s) dotted.
    False when there is nothing to draw."""
    from PIL import Image, ImageDraw

    rows = _curve_rows(res)
    lines: dict[str, list[tuple[float, float]]] = {}
    for steps, by in rows.items():
        for v in VARIANTS:
            if by.get(v):
                q = quiet_seconds(res, steps, v)
                lines.setdefault(v, []).append((q if q is not None else float(steps),
                                                float(np.mean(by[v]))))
    if not lines:
        return False
    timed = res.get("speed") is not None
    xs = [x for pts in lines.values() for x, _ in pts] + ([60.0] if timed else [])
    ys = [y for pts in lines.values() for _, y in pts] + [39.5]
    x0, x1 = 0.0, max(xs) * 1.08
    y0, y1 = min(ys) - 0.3, max(ys) + 0.3
    w, h = size
    left, right, top, bottom = 60, 20, 30, 50
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (w - left - right),
                h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom))

    d.rectangle([left, top, w - right, h - bottom], outline="black")
    for k in range(6):  # ticks
        yv = y0 + (y1 - y0) * k / 5
        xv = x0 + (x1 - x0) * k / 5
        d.text((4, px(0, yv)[1] - 6), f"{yv:.1f}", fill="black")
        d.text((px(xv, y0)[0] - 10, h - bottom + 4), f"{xv:.0f}", fill="black")
    d.text((left, h - 20), "quiet seconds on 2 CPU cores (training + prediction)" if timed
           else "training steps", fill="black")
    d.text((left, 8), "One-shot HQ-SSL on FMD fields: PSNR (dB, mean) against length", fill="black")
    d.line([px(x0, 39.5), px(x1, 39.5)], fill=(120, 120, 120))
    if timed:
        d.line([px(60.0, y0), px(60.0, y1)], fill=(120, 120, 120))
    colours = {"plain": (130, 130, 130), "tta4": (31, 119, 180), "tta8": (214, 39, 40)}
    for i, (v, pts) in enumerate(lines.items()):
        pts = sorted(pts)
        d.line([px(*p) for p in pts], fill=colours[v], width=2)
        for p in pts:
            cx, cy = px(*p)
            d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colours[v])
        d.text((w - right - 200, top + 6 + 14 * i), LABELS[v], fill=colours[v])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return True


def lr_table(res: dict) -> str:
    """Each run at another learning rate (``curve_lr<value>``) beside the same image and length
    in ``curve`` (measured at the learning rate of its time, 2e-3), 4 rotations."""
    lines = ["| image | steps | learning rate | 4 rotations, dB | at 2e-3, dB | difference |",
             "|---|---|---|---|---|---|"]
    diffs = []
    for section in sorted(k for k in res if k.startswith("curve_lr")):
        lr = section[len("curve_lr"):]
        for key, entry in sorted(res[section].items()):
            name, steps = key.rsplit("|", 1)
            base = res.get("curve", {}).get(key, {}).get("tta4")
            new = entry.get("tta4")
            if new is None:
                continue
            diff = "" if base is None else f"{new - base:+.2f}"
            if base is not None:
                diffs.append(new - base)
            lines.append(f"| {name} | {steps} | {lr} | {new:.2f} | {'' if base is None else f'{base:.2f}'} | {diff} |")
    if len(lines) == 2:
        return "(no run at another learning rate yet: `python -m benchmarks.one_minute curve --lr 4e-3`)"
    if diffs:
        mean_new = sum(e["tta4"] for s in res if s.startswith("curve_lr") for e in res[s].values()) / sum(
            1 for s in res if s.startswith("curve_lr") for _ in res[s].values())
        lines.append(f"| **mean** ({len(diffs)} images) | | | **{mean_new:.2f}** | | **{sum(diffs) / len(diffs):+.2f}** |")
    return "\n".join(lines)


def oneshot_table(res: dict) -> str:
    """The bare one-shot command per FMD field (:mod:`benchmarks.one_shot_wall`): alone, and
    beside one CPU-bound process where measured; wall-clock seconds of the whole process,
    training steps the 45 s budget bought, PSNR; the mean row over the fields measured."""
    quiet, busy = res.get("oneshot", {}), res.get("oneshot_busy", {})
    names = sorted(k for k in quiet if k != "startup_s")
    if not names:
        return "(no run yet: `python -m benchmarks.one_shot_wall`)"
    out = ["| image | noisy | alone: steps | alone: wall s | alone: dB | beside a busy process: steps "
           "| wall s | dB | steps alone ÷ beside | wall beside ÷ alone |", "|" + "---|" * 10]
    rows = {}
    for name in names:
        q, b = quiet[name], busy.get(name)
        rows[name] = [q["noisy"], q["steps"], q["wall_s"], q["psnr"]] + (
            [b["steps"], b["wall_s"], b["psnr"], q["steps"] / b["steps"], b["wall_s"] / q["wall_s"]]
            if b else [None] * 5)
        out.append(f"| {name} | " + " | ".join(_cell(i, v) for i, v in enumerate(rows[name])) + " |")
    groups = [(f"all {len(names)} fields", names)]
    both = [n for n in names if rows[n][4] is not None]
    if both and len(both) < len(names):
        groups.append((f"the {len(both)} fields measured beside", both))
    for label, which in groups:
        means = [None if any(rows[n][i] is None for n in which) else float(np.mean([rows[n][i] for n in which]))
                 for i in range(9)]
        out.append(f"| **mean, {label}** | " + " | ".join(
            "—" if v is None else f"**{_cell(i, v)}**" for i, v in enumerate(means)) + " |")
    start = quiet.get("startup_s")
    if start is not None:
        out.append(f"\nThe wall clock includes {start:.1f} s of Python, torch and CLI start-up "
                   "(a process that only imports them, minimum of 3).")
    return "\n".join(out)


def _cell(i: int, v: float | None) -> str:
    if v is None:
        return "—"
    if i in (1, 4):
        return f"{v:.0f}"
    return f"{v:.2f}" if i in (0, 3, 6, 7, 8) else f"{v:.1f}"


def render_doc(res: dict, doc: Path, fig_path: Path) -> None:
    blocks: dict[str, Any] = {"one_minute_curve": curve_table(res),
                              "one_minute_lr": lr_table(res),
                              "one_minute_images": per_image_table(res),
                              "one_minute_speed": speed_text(res),
                              "one_minute_oneshot": oneshot_table(res),
                              "one_minute_oneshot_before": oneshot_table(res.get("before_warm_start", {}))}
    text = doc.read_text()
    for key, body in blocks.items():
        if BEGIN.format(key) not in text:
            text += f"\n{BEGIN.format(key)}\n{END.format(key)}\n"
        text = replace_block(text, key, body) or text
    doc.write_text(text)
    figure(res, fig_path)
