"""Benchmarks and what they (and the tests) need around them: seeded order histories, table
snapshots, process readings, load generators. `oee bench` drives them; no product package imports
anything from here.
"""
