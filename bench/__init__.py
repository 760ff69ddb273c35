"""Benchmarks for `make bench`: each `bench/bench_*.py` module has a `main()` printing its figures."""
