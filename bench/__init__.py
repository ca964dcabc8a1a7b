"""Benchmarks: `make bench-push` (push throughput against a plain boto3 loop)."""
