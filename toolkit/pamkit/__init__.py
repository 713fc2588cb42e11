"""pamkit: pruning-aware merging of single-task networks into one task-selectable multitask model.

Pipeline stages, each a subpackage with a small API and a CLI verb:
data -> tasks -> models -> train -> merge -> prune -> cost -> export -> bench.
"""

__version__ = "0.1.0"
