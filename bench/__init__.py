"""Benchmarks and what they (and the tests) need around them: seeded order histories, table
snapshots, process readings, load generators. `oee bench` drives them: the command line reads the
suite list from `bench.suites` (standard library only); no other product module imports from here.
"""
