"""The table of bad inputs run through the real CLI (test_bad_inputs.py); one module of cases per stage."""
