"""What the benchmarks share: how a figure is reported (figures.py), the table `make bench` prints
(run_all.py, bench_table.py, machine.py), and parts of a bench that are no bench of their own
(watermark_lag.py)."""
