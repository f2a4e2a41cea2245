"""Data stages: enwiki dump → extracted docs → sentence text shards → MindRecord MLM+NSP examples."""
