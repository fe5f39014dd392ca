"""Code the tests share: builders, harnesses, servers and waiting helpers."""
