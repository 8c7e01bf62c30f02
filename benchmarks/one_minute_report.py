"""The tables and the figure of :mod:`benchmarks.one_minute` (written into docs/performance.md
between the ``<!-- generated:one_minute_* -->`` markers; the prose around them is by hand)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

BEGIN, END = "<!-- generated:{} -->", "<!-- /generated:{} -->"
VARIANTS = ("plain", "tta4", "tta8")
LABELS = {"plain": "one pass", "tta4": "4 rotations", "tta8": "8 transforms (0.2.0 default)"}


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
            f"{p['tta4']:.1f} s (4 rotations), {p['tta8']:.1f} s (8 transforms).")


def figure(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _curve_rows(res)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for v, colour in zip(VARIANTS, ("#999999", "#1f77b4", "#d62728")):
        xs, ys = [], []
        for steps, by in rows.items():
            if by.get(v):
                q = quiet_seconds(res, steps, v)
                xs.append(q if q is not None else steps)
                ys.append(float(np.mean(by[v])))
        ax.plot(xs, ys, "o-", color=colour, label=LABELS[v])
    ax.axhline(39.5, color="k", lw=0.8, ls=":")
    ax.axvline(60.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("quiet seconds on 2 CPU cores (training + prediction)"
                  if res.get("speed") else "training steps")
    ax.set_ylabel("PSNR, dB (mean over FMD fields)")
    ax.set_title("One-shot HQ-SSL: quality against time")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def render_doc(res: dict, doc: Path, fig_path: Path) -> None:
    blocks: dict[str, Any] = {"one_minute_curve": curve_table(res),
                              "one_minute_images": per_image_table(res),
                              "one_minute_speed": speed_text(res)}
    text = doc.read_text()
    for key, body in blocks.items():
        b, e = BEGIN.format(key), END.format(key)
        if b not in text:
            text += f"\n{b}\n{e}\n"
        text = re.sub(re.escape(b) + ".*?" + re.escape(e), lambda _m: f"{b}\n{body}\n{e}", text,
                      flags=re.S)
    doc.write_text(text)
    figure(res, fig_path)
