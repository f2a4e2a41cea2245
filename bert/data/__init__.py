"""Data: the pretraining stages (enwiki dump → extracted docs → sentence text shards → MindRecord
MLM+NSP examples). GLUE's task files are bert.glue's."""


class DataError(ValueError):
    """Bad input to a data stage or a task file; the message is one line naming the problem."""
