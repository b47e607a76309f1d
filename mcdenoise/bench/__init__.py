"""Benchmarks: `bench mc` against OIDN and references, shared figures and machine line."""
