"""Benchmark programs behind `oee bench`: they print figures and are not timed tests."""
