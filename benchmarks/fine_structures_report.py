"""Tables of ``docs/fine_structures.json`` for ``docs/fine_structures.md`` (the hand-written
findings live in that file between the generated blocks; this only replaces the blocks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .doc_blocks import BEGIN, END, replace_block
from .report import f, machine_info, table

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "fine_structures.md"


def study_table(res: dict) -> str:
    study = res.get("study", {})
    if not study:
        return "_not run yet_"
    images = list(study)
    from .fine_structures import FACTORS

    names: list[str] = []
    for e in study.values():
        names += [n for n in e.get("ours", {}) if n not in names]
    names.sort(key=lambda n: list(FACTORS).index(n) if n in FACTORS else len(FACTORS))
    header = ["setting"] + images + ["mean Δ vs base", "steps/s (1 thread)"]
    rows = [["noisy"] + [f(study[i]["noisy"]) for i in images] + ["", ""],
            ["BM3D, oracle σ"] + [f(study[i].get("bm3d", {}).get("psnr")) for i in images] + ["", ""]]
    for n in names:
        vals, deltas, speed = [], [], []
        for i in images:
            o = study[i].get("ours", {})
            r = o.get(n)
            vals.append(f(r["psnr"]) if r else "—")
            if r and "base" in o:
                deltas.append(r["psnr"] - o["base"]["psnr"])
            if r:
                speed.append(r["steps_per_s"])
        rows.append([n] + vals + [f"{np.mean(deltas):+.2f}" if deltas and n != "base" else "",
                                  f(np.median(speed)) if speed else "—"])
    return table(header, rows)


def result_table(res: dict, section: str) -> str:
    sec = res.get(section, {})
    if not sec:
        return "_not run yet_"
    labels: list[str] = []
    for e in sec.values():
        labels += [n for n in e.get("ours", {}) if n not in labels]
    labels.sort(key=lambda n: ("old" not in n, "auto" in n, "no TTA" not in n))  # before, then after
    has_bm3d = any("bm3d" in e for e in sec.values())
    has_care = any("careamics" in e for e in sec.values())
    header = ["image", "set", "noisy"] + (["BM3D, oracle σ"] if has_bm3d else []) + \
        (["CAREamics N2V2"] if has_care else []) + \
        [f"ours: {n}" for n in labels] + (["ours − BM3D"] if has_bm3d and labels else [])
    rows = []
    for name, e in sec.items():
        ours = [e.get("ours", {}).get(n, {}).get("psnr") for n in labels]
        kind = ("FMD" if section == "fmd" else "held out, fresh" if e.get("fresh")
                else "held out" if e.get("held_out") else "dev")
        row = [name, kind, f(e["noisy"])]
        if has_bm3d:
            row.append(f(e.get("bm3d", {}).get("psnr")))
        if has_care:
            row.append(f(e.get("careamics", {}).get("psnr")))
        row += [f(v) for v in ours]
        if has_bm3d and labels:
            last = next((v for v in reversed(ours) if v is not None), None)
            b = e.get("bm3d", {}).get("psnr")
            row.append(f"{last - b:+.2f}" if last is not None and b is not None else "—")
        rows.append(row)
    return table(header, rows)


def figure(section: str, images: list[str], runs: list[str], path: Path, zoom: int = 2) -> bool:
    """Rows of crops (clean, noisy, BM3D, ours...) from ``docs/fine_structures_crops.npz``;
    False if the crops are not there."""
    from PIL import Image, ImageDraw

    crops_path = ROOT / "benchmarks" / "results" / "fine_structures_crops.npz"
    if not crops_path.is_file():
        return False
    crops = dict(np.load(crops_path))
    cols = ["clean", "noisy", "BM3D"] + runs
    rows = [i for i in images if all(f"{section}|{i}|{c}" in crops for c in cols)]
    if not rows:
        return False
    side, label_h = 96 * zoom, 14
    sheet = Image.new("L", (side * len(cols), (side + label_h) * len(rows)), 255)
    draw = ImageDraw.Draw(sheet)
    for r, name in enumerate(rows):
        hi = float(np.percentile(crops[f"{section}|{name}|clean"].astype(np.float32), 99.5)) or 1.0
        for c, what in enumerate(cols):
            a = np.clip(crops[f"{section}|{name}|{what}"].astype(np.float32) / hi * 255, 0, 255)
            tile = Image.fromarray(a.astype(np.uint8)).resize((side, side), Image.NEAREST)
            x, y = c * side, r * (side + label_h)
            sheet.paste(tile, (x, y + label_h))
            draw.text((x + 2, y + 1), f"{name}: {what}"[:34], fill=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return True


def machine_line() -> str:
    m = machine_info()
    return f"{m['cpu']}, {m['usable_cpus']} usable CPUs (shared), Python {m['python']}, {m['os']}"


def render(res: dict, doc: Path = DOC) -> None:
    """Replace the generated blocks of ``doc`` (created with only the blocks if missing)."""
    blocks = {"study": study_table(res), "table": result_table(res, "table"),
              "fmd": result_table(res, "fmd"), "machine": machine_line()}
    text = doc.read_text() if doc.is_file() else "\n\n".join(
        f"{BEGIN.format(k)}\n{END.format(k)}" for k in blocks) + "\n"
    for key, body in blocks.items():
        text = replace_block(text, key, body) or text
    doc.write_text(text)
    table_runs = [n for n in ("defaults",) if any(n in e.get("ours", {}) for e in res.get("table", {}).values())]
    shown = [n for n in res.get("table", {}) if not n.startswith("set12") or n == "set12_09"]
    figure("table", shown, table_runs, ROOT / "docs" / "images" / "fine_structures.png")
