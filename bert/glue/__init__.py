"""GLUE: the nine tasks' file layouts, readers and submission files (`tasks`), their metrics
(`metrics`), a task folder tokenized for training (`dataset`), generated learnable sets in every
task's layout (`demo`, `sst2_demo`), and the finetuning grid's table and submission zip (`grid`)."""
