"""Projectors into the PostgreSQL read tables and metrics counters, and the replay/rebuild tool."""
