"""Training components: loss, train step, data feed, checkpoints, distribution, metrics."""
