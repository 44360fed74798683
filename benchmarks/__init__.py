"""Benchmarks (not tests): ``python -m benchmarks.storage`` times the storage backend against
raw psycopg and langgraph-checkpoint-postgres in one interleaved run and prints ratios."""
