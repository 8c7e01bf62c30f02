#!/usr/bin/env bash
# Refresh .ci/constraints.txt: the known-good versions the test suite installs against (the
# README's second command passes it to pip with -c), so that a landing depends only on our change
# and not on what PyPI released that day.
#
#   bash tools/refresh-constraints.sh        # then run the suite, and commit the file if green
#
# It installs the test needs, as the README's second command does but unconstrained (today's
# newest releases within pyproject.toml's ranges), into a fresh virtual environment, and writes
# `pip freeze` of it, less napari-blindspot itself and torch's build (torch is pinned by the
# command itself; its CUDA/ROCm libraries come with the build a machine picks).
set -euo pipefail
cd "$(dirname "$0")/.."
torch_pin=$(awk '/^```bash$/ {k++; next} k == 2 {print; exit}' README.md | grep -o 'torch==[^ ]*' || true)
venv="$(mktemp -d)/constraints-env"
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q ${torch_pin:+"$torch_pin"} ".[test]"
out=.ci/constraints.txt
tmp="$out.partial"
{
    echo "# Known-good versions for the test suite (README's second command: pip install -c $out)."
    echo "# Made by tools/refresh-constraints.sh on $(date -u +%Y-%m-%d) with Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'); refresh with that script."
    "$venv/bin/python" -m pip freeze --exclude-editable \
        | grep -viE '^(napari-blindspot|torch|triton|nvidia-[a-z0-9-]*)(==| @)' \
        | grep -v ' @ ' \
        | LC_ALL=C sort -f
} > "$tmp"
mv "$tmp" "$out"
rm -rf "$(dirname "$venv")"
echo "refresh-constraints: wrote $out ($(grep -vc '^#' "$out") packages); run the suite with it, then commit it."
