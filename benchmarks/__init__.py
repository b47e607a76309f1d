"""Benchmark scripts; results are recorded in benchmarks/results/."""
