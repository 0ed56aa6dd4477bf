"""The engagement review: per-alumnus facts, sections, stats, funnels and CSV exports."""
