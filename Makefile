# The two commands of the README: `make demo` and `make test`. Each sets up what it needs first.
VENV := .venv
PAMKIT := $(VENV)/bin/pamkit

.PHONY: setup demo test lock

setup:
	@bash scripts/setup.sh

demo: setup
	$(PAMKIT) demo

test: setup
	$(VENV)/bin/python -m pytest

# Regenerate constraints.txt from the current environment (after changing pyproject's pins).
lock:
	{ sed -n '1,2p' constraints.txt; $(VENV)/bin/pip freeze --exclude-editable | grep -v '^pamkit' \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new && mv constraints.txt.new constraints.txt
