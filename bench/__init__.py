"""Benchmarks: each prints a table and writes JSON under bench/results/; baselines run in the same process."""
