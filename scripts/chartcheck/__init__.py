"""The checks of chart/ that scripts/check_chart.py runs (see its docstring)."""
