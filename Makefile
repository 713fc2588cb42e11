# The commands of the README: `make demo`, `make test`, `make test-fast` and `make check`. Each sets up what it
# needs first.
VENV := .venv
PAMKIT := $(VENV)/bin/pamkit

.PHONY: setup demo test test-fast test-android test-ios check lock

setup:
	@bash scripts/setup.sh

# --overwrite replaces only an earlier demo's own folder; anything else at runs/demo is refused.
demo: setup
	$(PAMKIT) demo --overwrite

test: setup
	$(VENV)/bin/python -m pytest
	bash android_demo/scripts/test-jvm.sh

# The Android side alone: its JVM tests, the ExecuTorch adapter's compile check, then app-assets and APK validation.
test-android: setup
	bash android_demo/scripts/test-jvm.sh
	$(VENV)/bin/python -m pytest tests/test_android.py tests/test_app_fixtures.py

# The iOS side alone: the Swift syntax check of ios_export/ (pytest also checks generated files), then its tests.
test-ios: setup
	node ios_export/scripts/check-swift.cjs $$(find ios_export -name '*.swift')
	$(VENV)/bin/python -m pytest tests/test_ios.py tests/test_app_fixtures.py

# The edit-test loop: everything but the tests marked slow (end-to-end runs, the ResNets).
test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow"
	bash android_demo/scripts/test-jvm.sh

# Lint, formatting and types over toolkit/ (settings in pyproject.toml); CI runs it before the tests.
check: setup
	$(VENV)/bin/ruff check toolkit
	$(VENV)/bin/ruff format --check toolkit
	$(VENV)/bin/mypy

# Regenerate constraints.txt from the current environment (after changing pyproject's pins).
lock:
	{ sed -n '1,2p' constraints.txt; $(VENV)/bin/pip freeze --exclude-editable | grep -v '^pamkit' \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new && mv constraints.txt.new constraints.txt
