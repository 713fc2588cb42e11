#!/usr/bin/env bash
# Validate the app's AndroidManifest.xml, resources and assets with Android's own packaging tools:
#   aapt package (against the API 29 framework-res.apk), zipalign, apksigner sign (a throwaway key) and verify.
# This makes a code-less APK (no classes.dex: there is no android.jar and no dexer here), so it is a manifest,
# resource and asset validation, not an app build. The package name, SDK levels and version are read from
# app/build.gradle.kts and given to aapt as the Android Gradle Plugin merges them into the manifest.
#   usage: validate-apk.sh ASSETS_DIR OUT_DIR   (ASSETS_DIR: written by `pamkit app-assets`)
set -euo pipefail
[ $# = 2 ] || { echo "usage: $0 ASSETS_DIR OUT_DIR (ASSETS_DIR from \`pamkit app-assets\`)" >&2; exit 2; }
ASSETS=$(cd "$1" && pwd)
OUT=$2
APP=$(cd "$(dirname "$0")/../app" && pwd)
FRAMEWORK=/usr/share/android-framework-res/framework-res.apk
for tool in aapt zipalign apksigner keytool; do
    command -v $tool >/dev/null || { echo "validate-apk: $tool is not installed; run \`make setup\` as root (Debian: aapt zipalign apksigner)" >&2; exit 3; }
done
[ -f "$FRAMEWORK" ] || { echo "validate-apk: $FRAMEWORK is missing; run \`make setup\` as root (Debian: android-framework-res)" >&2; exit 3; }
[ -f "$ASSETS/manifest.json" ] || { echo "validate-apk: $ASSETS/manifest.json is missing; pass a folder written by \`pamkit app-assets\`" >&2; exit 2; }

gradle_value() { sed -n "s/^ *$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$APP/build.gradle.kts" | head -1; }
package=$(gradle_value namespace)
min_sdk=$(gradle_value minSdk)
target_sdk=$(gradle_value targetSdk)
version_code=$(gradle_value versionCode)
version_name=$(gradle_value versionName)

rm -rf "$OUT" && mkdir -p "$OUT/assets"
sed "s|<manifest |<manifest package=\"$package\" |" "$APP/src/main/AndroidManifest.xml" > "$OUT/AndroidManifest.xml"
cp -r "$ASSETS" "$OUT/assets/pamkit"   # the app reads assets/pamkit/
aapt package -f -M "$OUT/AndroidManifest.xml" -S "$APP/src/main/res" -A "$OUT/assets" -I "$FRAMEWORK" \
    --min-sdk-version "$min_sdk" --target-sdk-version "$target_sdk" --version-code "$version_code" \
    --version-name "$version_name" -0 pte -0 tflite -F "$OUT/app.unaligned.apk"
zipalign -f -p 4 "$OUT/app.unaligned.apk" "$OUT/app.apk"
keytool -genkeypair -keystore "$OUT/throwaway.jks" -storepass android -keypass android -alias demo -keyalg RSA \
    -keysize 2048 -validity 1 -dname "CN=pamkit validation" >/dev/null 2>&1
apksigner sign --ks "$OUT/throwaway.jks" --ks-pass pass:android --key-pass pass:android "$OUT/app.apk"
apksigner verify "$OUT/app.apk"
aapt dump badging "$OUT/app.apk" > "$OUT/badging.txt"
aapt list -v "$OUT/app.apk" > "$OUT/contents.txt"
grep -E "^(package|sdkVersion|targetSdkVersion|launchable-activity)" "$OUT/badging.txt"
echo "validate-apk: $OUT/app.apk is aligned, signed and verified (no classes.dex: manifest, resources and assets only)"
