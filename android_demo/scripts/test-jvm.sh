#!/usr/bin/env bash
# The Android side's checks that run on a JVM here (make test-android; make test runs them after pytest):
#   1. compile android_demo/core (pure Kotlin, -jvm-target 1.8 as Android's D8 wants) and its JUnit 4 tests,
#      then run them: they read the Python side's shared cases (tests/selection_cases.json, tests/app_fixtures/)
#   2. `pamkit bench report` reads the results file the tests wrote, as it would read one from a phone
#   3. compile the ExecuTorch adapter of the app against the real ExecuTorch Android Java API (a compile check:
#      classes.jar from the npm package react-native-executorch@0.9.3; nothing of it is run or committed)
# Tools come from `make setup` (scripts/app-tools: kotlin-compiler; Debian: junit4, libandroid-json-java);
# a missing tool skips its step with the reason. Output goes to build/android/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/android
TOOLS=$ROOT/scripts/app-tools/node_modules
KOTLIN=$TOOLS/kotlin-compiler
JSON=/usr/share/java/com.android.json.jar
JUNIT=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
EXECUTORCH_JAR=$TOOLS/react-native-executorch/android/libs/classes.jar

say() { printf 'android: %s\n' "$*"; }
skip() { say "SKIPPED $1: $2"; }
kotlinc() {  # the compiler's output is shown only when it fails, or for its warnings
    local log status=0
    log=$(mktemp)
    "$KOTLIN/bin/kotlinc" -jvm-target 1.8 "$@" >"$log" 2>&1 || status=$?
    if [ $status != 0 ]; then cat "$log"; else grep 'warning:' "$log" | grep -v 'kotlin-stdlib.jar' || true; fi
    rm -f "$log"
    return $status
}

missing=()
command -v java >/dev/null || missing+=("java (OpenJDK 17)")
[ -x "$KOTLIN/bin/kotlinc" ] || [ -f "$KOTLIN/bin/kotlinc" ] || missing+=("kotlin-compiler (npm, scripts/app-tools)")
for jar in $JSON ${JUNIT//:/ }; do [ -f "$jar" ] || missing+=("$jar (Debian junit4 / libandroid-json-java)"); done
if [ ${#missing[@]} -gt 0 ]; then
    skip "the JVM tests" "missing ${missing[*]}; run \`make setup\` as root (or with sudo) to install them"
    exit 0
fi
chmod +x "$KOTLIN"/bin/* 2>/dev/null || true
rm -rf "$OUT/core" "$OUT/tests" "$OUT/executorch" "$OUT/out"
mkdir -p "$OUT/core" "$OUT/tests" "$OUT/out"

say "compiling android_demo/core (Kotlin $(cat "$KOTLIN/build.txt" 2>/dev/null || echo '?'), -jvm-target 1.8)"
kotlinc -cp "$JSON" android_demo/core/src/main/kotlin -d "$OUT/core"
kotlinc -cp "$OUT/core:$JSON:$JUNIT" android_demo/core/src/test/kotlin -d "$OUT/tests"

classes=$(cd "$OUT/tests" && find . -name '*Test.class' ! -name '*$*' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
say "running $(echo "$classes" | wc -l) test classes"
java -Dpamkit.root="$ROOT" -Dpamkit.out="$OUT/out" \
    -cp "$OUT/tests:$OUT/core:$JSON:$JUNIT:$KOTLIN/lib/kotlin-stdlib.jar" dev.pamkit.core.TestRunnerKt $classes

say "pamkit bench report reads the results file the app's code wrote"
"$ROOT/.venv/bin/pamkit" bench report "$OUT/out/bench-android.json" --out "$OUT/bench-report" --overwrite > "$OUT/bench-report.log"
grep -q '^### android' "$OUT/bench-report/report.md" && say "bench report: $OUT/bench-report/report.md"

if [ -f "$EXECUTORCH_JAR" ]; then
    mkdir -p "$OUT/executorch"
    kotlinc -cp "$OUT/core:$JSON:$EXECUTORCH_JAR" android_demo/app/src/main/kotlin/dev/pamkit/demo/ExecuTorchRunner.kt -d "$OUT/executorch"
    say "the ExecuTorch adapter compiles against the ExecuTorch Android Java API (react-native-executorch 0.9.3 classes.jar)"
else
    skip "the ExecuTorch adapter compile check" "$EXECUTORCH_JAR is missing; run \`make setup\` (npm ci in scripts/app-tools)"
fi
