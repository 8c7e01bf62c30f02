#!/usr/bin/env bash
# Create benchmarks/.venv-careamics: a separate virtual environment holding CAREamics for the
# side-by-side benchmark (CAREamics is never a dependency of napari-blindspot itself).
#
#   bash benchmarks/setup_careamics.sh            # create or complete the environment
#   bash benchmarks/setup_careamics.sh --force    # start again from an empty environment
#
# Environment variables (defaults in brackets):
#   PYTHON               interpreter for the venv [python3]
#   CAREAMICS_VENV       where to put it [benchmarks/.venv-careamics]
#   CAREAMICS_SPEC       the CAREamics release [careamics==0.3.5]
#   TORCH_VERSION        torch, the same as napari-blindspot's environment [2.13.0]
#   TORCHVISION_VERSION  the torchvision built for that torch [0.28.0]
#
# Why the install is done in two steps: every CAREamics 0.3.x release caps torchvision
# (0.3.0-0.3.2: torch<2.10, torchvision<=0.25; 0.3.3-0.3.5: torch>=2.6,<2.14 but
# torchvision<=0.26.0), and torchvision 0.26.0 pins torch==2.11.0.  So pip cannot resolve
# "careamics + torch 2.13" (it backtracks for many minutes, then gives up), and resolving
# freely would pull a different (multi-GB CUDA) torch than the one we benchmark.  We therefore
# install torch first, then CAREamics without dependencies, then CAREamics' own dependency list
# (read from its metadata) with torch and torchvision pinned by a constraints file.  CAREamics
# itself allows torch 2.13 (<2.14); only its torchvision cap is bypassed.
#
# torchvision: CAREamics (and torchmetrics) import it at start-up; CAREamics itself uses only
# `transforms.functional.center_crop` (LVAE/MicroSplit code, never N2V/N2V2) and `__version__`.
# The torchvision wheels on PyPI are built against CUDA torch; with a CPU-only torch their
# compiled operators cannot load and `import torchvision` fails ("operator torchvision::nms does
# not exist").  In that case only, this script adds a start-up shim that declares the two
# operators torchvision needs at import (without kernels), and says so; the benchmark report
# records it.  With a CUDA torch (GPU machine) the real torchvision loads and no shim is added.
#
# On failure it prints why and exits non-zero; the benchmark then still reports napari-blindspot's
# own figures and marks the CAREamics columns "not installed".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${CAREAMICS_VENV:-$HERE/.venv-careamics}"
CAREAMICS_SPEC="${CAREAMICS_SPEC:-careamics==0.3.5}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.28.0}"

fail() {
    echo "" >&2
    echo "setup_careamics: FAILED: $*" >&2
    echo "setup_careamics: CAREamics is not available for the benchmark; 'python -m benchmarks.run' will" >&2
    echo "setup_careamics: still run and report napari-blindspot's own figures, with CAREamics marked" >&2
    echo "setup_careamics: 'not installed'.  Fix the cause above and run this script again." >&2
    exit 1
}
say() { echo "setup_careamics: $*"; }

if [ "${1:-}" = "--force" ]; then
    say "removing $VENV"
    rm -rf "$VENV"
fi

command -v "$PYTHON" >/dev/null 2>&1 || fail "no '$PYTHON' interpreter (set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || fail "CAREamics 0.3 needs Python >= 3.11, '$PYTHON' is $("$PYTHON" -V 2>&1)"

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV" || fail "python -m venv $VENV failed (on Debian: apt-get install python3-venv)"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

CONSTRAINTS="$VENV/benchmark-constraints.txt"
printf 'torch==%s\ntorchvision==%s\n' "$TORCH_VERSION" "$TORCHVISION_VERSION" > "$CONSTRAINTS"

say "1/5 installing torch==$TORCH_VERSION (pinned)"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" -c "$CONSTRAINTS" || fail "could not install torch==$TORCH_VERSION"

say "2/5 installing $CAREAMICS_SPEC (without dependencies, see the header of this script)"
"${PIP[@]}" install -q --no-deps "$CAREAMICS_SPEC" || fail "could not install $CAREAMICS_SPEC"

say "3/5 installing CAREamics' dependencies with torch==$TORCH_VERSION pinned"
REQS="$VENV/careamics-deps.txt"
"$PY" - "$REQS" <<'EOF' || fail "could not read CAREamics' dependency list"
import importlib.metadata as md
import re
import sys

out = []
for req in md.requires("careamics") or []:
    if "extra ==" in req:
        continue  # optional extras (wandb, tensorboard, czi, examples)
    name = re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower().replace("_", "-")
    if name in ("torch", "torchvision"):
        continue  # pinned separately
    out.append(req.split(";")[0].strip())
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out) + "\n")
print("setup_careamics:   " + ", ".join(out))
EOF
"${PIP[@]}" install -q -r "$REQS" -c "$CONSTRAINTS" || fail "could not install CAREamics' dependencies (see pip's message above)"

say "4/5 torchvision==$TORCHVISION_VERSION (without dependencies: they would pull another torch)"
TV_NOTE="real"
"${PIP[@]}" install -q --no-deps "torchvision==$TORCHVISION_VERSION" -c "$CONSTRAINTS" \
    || fail "could not install torchvision==$TORCHVISION_VERSION"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -f "$SITE/_benchmark_torchvision_cpu_shim.pth" "$SITE/_benchmark_torchvision_cpu_shim.py"
if ! "$PY" -c "import torchvision" >/dev/null 2>&1; then
    say "  torchvision's compiled operators do not load with this torch (PyPI's torchvision is built"
    say "  against CUDA torch); installing a start-up shim that declares the two operators whose"
    say "  declarations torchvision needs at import (nms, qnms), without kernels.  torchvision's"
    say "  Python code (transforms, models) works; its compiled ops (nms, roi_align...) do not, and"
    say "  CAREamics' N2V/N2V2 never call them."
    cat > "$SITE/_benchmark_torchvision_cpu_shim.py" <<'PYEOF'
"""Start-up shim written by napari-blindspot's benchmarks/setup_careamics.sh.

PyPI's torchvision wheels are built against CUDA torch; with a CPU-only torch their compiled
operator library (_C.so) cannot load, and `import torchvision` then fails in
torchvision/_meta_registrations.py ("operator torchvision::nms does not exist").  Just before
torchvision is first imported, this shim tries to load that library; if it cannot, it declares
the operators torchvision needs to exist at import (nms, qnms) without kernels, so the pure-Python
parts of torchvision (transforms, models) work.  Calling torchvision.ops.nms would still fail.
CAREamics uses only transforms.functional.center_crop (LVAE code) and __version__.
"""

import sys

_LIBRARY = None  # keeps the operator declarations alive


class _TorchvisionCpuShim:
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
            try:
                _declare_missing_operators()
            except Exception:  # never break start-up
                pass
        return None


def _declare_missing_operators():
    global _LIBRARY
    import glob
    import importlib.util
    import os

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return
    for lib in glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so")):
        try:
            torch.ops.load_library(lib)
            return  # the real operators loaded: nothing to do
        except OSError:
            pass
    _LIBRARY = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        _LIBRARY.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


sys.meta_path.insert(0, _TorchvisionCpuShim())
PYEOF
    echo "import _benchmark_torchvision_cpu_shim" > "$SITE/_benchmark_torchvision_cpu_shim.pth"
    TV_NOTE="shim"
    "$PY" -c "import torchvision" || fail "torchvision does not import, even with the shim (traceback above)"
fi

say "5/5 checking the installation"
"$PY" - "$TV_NOTE" "$VENV/careamics-install.json" <<'EOF' || fail "CAREamics does not import (see the traceback above)"
import json
import sys

import torch
import torchvision
import lightning
import careamics
from careamics import CAREamist  # noqa: F401
from careamics.config import create_advanced_n2v_config, create_n2v_config  # noqa: F401

info = {
    "careamics": careamics.__version__,
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "torchvision_cpu_shim": sys.argv[1] == "shim",
    "torchvision_compiled_ops": bool(torchvision.extension._has_ops()),
    "lightning": lightning.__version__,
    "python": sys.version.split()[0],
    "cuda_available": torch.cuda.is_available(),
}
with open(sys.argv[2], "w") as f:
    json.dump(info, f, indent=2)
print("setup_careamics:   " + ", ".join(f"{k} {v}" for k, v in info.items()))
EOF

TV_TORCH="$("$PY" -c 'import torch; print(torch.__version__)')"
case "$TV_TORCH" in
    "$TORCH_VERSION"*) ;;
    *) fail "the environment ended up with torch $TV_TORCH instead of $TORCH_VERSION" ;;
esac
say "OK: CAREamics is ready in $VENV"
[ "$TV_NOTE" = "shim" ] && say "note: torchvision runs without its compiled operators (see above); CAREamics N2V/N2V2 do not use them"
exit 0
