#!/usr/bin/env bash
# Build pamkit_runner for an Android phone with the Android NDK (for users who have it; nothing here runs it:
# this machine has no NDK). Two steps: ExecuTorch's runtime from source for arm64-v8a, then the runner.
#   ANDROID_NDK=~/Android/Sdk/ndk/27.2.12479018 EXECUTORCH_SRC=~/src/executorch android_demo/native/build-runner.sh
# EXECUTORCH_SRC: a checkout of github.com/pytorch/executorch at the tag of the executorch pamkit exports with
# (v1.5.1: constraints.txt), with its submodules (git submodule update --init --recursive).
# Result: build/android-runner/pamkit_runner, for `pamkit bench DIR --target android --runner-binary` it.
set -euo pipefail
: "${ANDROID_NDK:?set ANDROID_NDK to the NDK folder (Android Studio: SDK Manager, NDK (Side by side))}"
: "${EXECUTORCH_SRC:?set EXECUTORCH_SRC to a checkout of pytorch/executorch at the tag pamkit exports with}"
ABI=${ABI:-arm64-v8a}
PLATFORM=${PLATFORM:-android-26}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/../../build/android-runner}
TOOLCHAIN=$ANDROID_NDK/build/cmake/android.toolchain.cmake
[ -f "$TOOLCHAIN" ] || { echo "build-runner: $TOOLCHAIN not found: ANDROID_NDK must be an NDK folder" >&2; exit 2; }
[ -f "$EXECUTORCH_SRC/CMakeLists.txt" ] || { echo "build-runner: $EXECUTORCH_SRC is not an ExecuTorch checkout" >&2; exit 2; }
common=(-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DANDROID_ABI="$ABI" -DANDROID_PLATFORM="$PLATFORM" -DCMAKE_BUILD_TYPE=Release)

echo "== 1/2 ExecuTorch for $ABI (static libraries) into $OUT/executorch"
cmake -S "$EXECUTORCH_SRC" -B "$OUT/executorch-build" "${common[@]}" -DCMAKE_INSTALL_PREFIX="$OUT/executorch" \
    -DEXECUTORCH_BUILD_XNNPACK=ON -DEXECUTORCH_BUILD_KERNELS_OPTIMIZED=ON -DEXECUTORCH_BUILD_KERNELS_QUANTIZED=ON \
    -DEXECUTORCH_BUILD_EXTENSION_MODULE=ON -DEXECUTORCH_BUILD_EXTENSION_DATA_LOADER=ON \
    -DEXECUTORCH_BUILD_EXTENSION_TENSOR=ON -DEXECUTORCH_BUILD_EXTENSION_FLAT_TENSOR=ON
cmake --build "$OUT/executorch-build" -j "$(nproc)" --target install

echo "== 2/2 pamkit_runner"
cmake -S "$HERE" -B "$OUT/runner-build" "${common[@]}" -Dexecutorch_DIR="$OUT/executorch/lib/cmake/ExecuTorch"
cmake --build "$OUT/runner-build" -j "$(nproc)"
cp "$OUT/runner-build/pamkit_runner" "$OUT/pamkit_runner"
echo "built $OUT/pamkit_runner; next: pamkit bench EXPORT_DIR --target android --runner-binary $OUT/pamkit_runner"
