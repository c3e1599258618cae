"""Aggregation of run results into tables (CSV, Markdown)."""
