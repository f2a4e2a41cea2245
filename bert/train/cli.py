"""The command line of every training stage (bert.pretrain, bert.finetune, bert.distill):
`--config YAML` + `key=value` overrides in, a run with SIGUSR2/SIGTERM turned into a
save-and-exit request out; bad input → one `error:` line and exit code 2."""
from __future__ import annotations

import argparse
import signal
import sys

from bert.model_dir import CheckpointError
from bert.config import ConfigError
from bert.data import DataError
from bert.tokenization import VocabError
from bert.train.config import load_config
from bert.train.data import DataFeedError

BAD_INPUT = 2  # one error line about the input, the config or the output filesystem: retrying cannot help
NOT_LEARNING = 3  # stopped by the non-finite policy (RunConfig.max_skipped_in_a_row): retrying cannot help
RESTARTS_ENV = "BERT_JOB_RESTARTS"  # set by the launch path: the job's restarts so far, for TensorBoard


class StopRequest:
    """Turns SIGUSR2/SIGTERM into a flag the training loop checks between steps."""

    def __init__(self):
        self.signal_name = None
        for sig in (signal.SIGUSR2, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, _frame):
        self.signal_name = signal.Signals(signum).name

    def __bool__(self):
        return self.signal_name is not None


def run_cli(argv, prog: str, doc: str, config_cls, run, example: str) -> int:
    """Parse `--config` + overrides into `config_cls`, then `run(cfg, stop)`."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="run YAML (see configs/)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help=f"e.g. {example}")
    args = parser.parse_args(argv)
    stop = StopRequest()
    try:
        return run(load_config(config_cls, args.config, args.overrides), stop)
    except (ConfigError, DataError, DataFeedError, CheckpointError, VocabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
