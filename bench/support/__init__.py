"""What the benchmarks share: how a figure is reported (figures.py)."""
