#!/usr/bin/env bash
# System libraries the test suite needs on Debian/Ubuntu: Xvfb (a virtual display) and
# Mesa (software OpenGL) for napari's canvas, plus the X/xcb libraries Qt loads.
# Uses sudo when not run as root; does nothing when the libraries are already there.
set -euo pipefail
packages=(xvfb xauth libgl1 libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxkbcommon0
          libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
          libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1)
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-system-deps: no apt-get here; install Xvfb and Mesa with your package manager" >&2
    exit 0
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
