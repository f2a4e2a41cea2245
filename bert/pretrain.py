"""MLM+NSP pretraining: MindRecord shards + a config in, checkpoints and TensorBoard logs out.

    python -m bert.pretrain --config configs/pretrain.yaml [key=value …]
    msrun --worker_num=2 --local_worker_num=2 --join=True -m bert.pretrain --config …   (data parallel)

A run whose output_dir already holds a checkpoint resumes from it (weights, optimizer moments,
step, LR schedule, loss scale, data cursor). SIGUSR2/SIGTERM: save at the next step boundary and
exit 0 (whether the job is then requeued is the launcher's call: bert.cluster.launch). A run that
reached its last step writes output_dir/results.json (step, checkpoint, config) last: its mark of done.
"""
# MindSpore (and bert.model, bert.train.loss, bert.train.distributed, which import it) is imported inside
# the functions that use it: bad input is reported in one line before MindSpore loads.
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bert.atomic import write_text_atomic
from bert.convert import load_pretrained
from bert.data.config import DataConfig
from bert.data.pretraining import Vocab
from bert.flops import pretraining_step_flops
from bert.tokenization import Tokenizer, file_sha256
from bert.train.checkpoints import resolve_init
from bert.train.cli import run_cli
from bert.train.config import PretrainConfig
from bert.train.data import Corpus, DataFeedError, PretrainingFeed, check_files, resolve_files
from bert.train.loop import Run, Task, open_run, train

RESULTS_FILE = "results.json"

# the model's input order (BertForPreTraining.mlm_nll) of the MindRecord columns
INPUTS = ("input_ids", "segment_ids", "input_mask", "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
          "next_sentence_labels")


def model_inputs(batch: dict, masked: float, global_batch: int, dropout=None) -> tuple:
    """One micro-batch of MindRecord columns + the global batch's masked-token count and size →
    PretrainingLoss's inputs (the two counts are its loss denominators)."""
    import mindspore as ms

    return (*(ms.Tensor(batch[name]) for name in INPUTS), ms.Tensor(masked + 1e-5, ms.float32),
            ms.Tensor(float(global_batch), ms.float32), dropout)


class Pretraining(Task):
    """MLM + NSP on MindRecord shards; evaluated on held-out shards when eval_data is set."""

    def __init__(self, cfg: PretrainConfig, run: Run, corpus: Corpus, eval_corpus: Corpus | None):
        from bert.model import BertForPreTraining
        from bert.train.loss import PretrainingLoss

        self.cfg, self.run = cfg, run
        self.bert_config = cfg.bert_config()
        self.name = f"pretraining {self.bert_config.name} on {corpus.rows} examples ({corpus.masking} masks)"
        self.masks = dynamic_masks(cfg, corpus)
        self.feed = PretrainingFeed(corpus, cfg.train_batch_size, cfg.accumulation_steps, run.rank, run.world,
                                    cfg.seed, masks=self.masks)
        self.eval_corpus = eval_corpus
        self.model = BertForPreTraining(self.bert_config, cfg.next_sentence)
        self.loss_net = PretrainingLoss(self.model)
        if run.latest is None and cfg.init:
            source = resolve_init(Path(cfg.init))
            left = load_pretrained(self.model, source, missing_ok=("cls.",))
            print(f"initialised weights from {source}" + (f" ({len(left)} head tensors fresh)" if left else ""),
                  flush=True)

    def counts(self, micro_batches):
        return [float(sum(b["masked_lm_weights"].sum() for b in micro_batches))]

    def inputs(self, batch, counts, dropout):
        return model_inputs(batch, counts[0], self.feed.global_batch, dropout)

    def train_metrics(self, sums, counts):
        mlm_sum, nsp_sum, mlm_correct, nsp_correct = sums
        masked, examples = max(counts[0], 1e-5), self.feed.global_batch
        metrics = {"mlm_loss": mlm_sum / masked, "nsp_loss": nsp_sum / examples,
                   "mlm_accuracy": mlm_correct / masked, "nsp_accuracy": nsp_correct / examples}
        return metrics if self.cfg.next_sentence else {k: v for k, v in metrics.items() if not k.startswith("nsp")}

    def step_flops(self, global_batch):
        return pretraining_step_flops(self.bert_config, self.cfg.max_seq_length, self.cfg.max_predictions_per_seq,
                                      global_batch)

    def log_fields(self, step, avg):
        if not self.cfg.next_sentence:
            return f"loss: {avg['loss']:.6f}, masked_lm_loss: {avg['mlm_loss']:.6f}, mlm_acc: {avg['mlm_accuracy']:.4f}"
        return (f"loss: {avg['loss']:.6f}, masked_lm_loss: {avg['mlm_loss']:.6f}, "
                f"next_sentence_loss: {avg['nsp_loss']:.6f}, mlm_acc: {avg['mlm_accuracy']:.4f}, "
                f"nsp_acc: {avg['nsp_accuracy']:.4f}")

    def evaluate(self, step, step_cell):
        """MLM/NSP loss and accuracy on the first eval_batches global batches of the held-out shards."""
        from bert.train.distributed import all_reduce_sum

        if not self.eval_corpus:
            return {}
        cfg, run = self.cfg, self.run
        feed = PretrainingFeed(self.eval_corpus, cfg.train_batch_size, 1, run.rank, run.world, cfg.seed,
                               shuffle=False, masks=dynamic_masks(cfg, self.eval_corpus))
        sums = np.zeros(6)
        for _, micro in zip(range(cfg.eval_batches), feed.epoch(0)):
            _, metric_sums = step_cell.evaluate(*self.inputs(micro[0], [1.0], None))
            sums += [float(x.asnumpy()) for x in metric_sums] + [float(micro[0]["masked_lm_weights"].sum()),
                                                                 feed.batch_size]
        mlm_sum, nsp_sum, mlm_correct, nsp_correct, masked, examples = all_reduce_sum(list(sums), run.world)
        masked, examples = max(masked, 1e-5), max(examples, 1)
        results = {"mlm_loss": mlm_sum / masked, "nsp_loss": nsp_sum / examples,
                   "loss": mlm_sum / masked + nsp_sum / examples,
                   "mlm_accuracy": mlm_correct / masked, "nsp_accuracy": nsp_correct / examples}
        if not cfg.next_sentence:
            results = {k: v for k, v in results.items() if not k.startswith("nsp")}
        if run.rank == 0:
            print(f"eval (step {step}): " + ", ".join(f"{k}: {v:.4f}" for k, v in results.items()), flush=True)
        return {f"eval/{k}": v for k, v in results.items()}

    def finish(self, step, run):
        """results.json: the run's completion mark (its last step and checkpoint), written last."""
        latest = run.checkpoints.latest()
        write_text_atomic(run.output / RESULTS_FILE, json.dumps(
            {"step": step, "checkpoint": str(latest), "config": self.cfg.to_dict()}, indent=2) + "\n")
        print(f"done: step {step}, checkpoint {latest}", flush=True)


def main(argv=None) -> int:
    return run_cli(argv, "python -m bert.pretrain", __doc__, PretrainConfig, pretrain,
                   "data=data/wiki/examples model.name=L2-H128 optim.learning_rate=5e-4")


def dynamic_masks(cfg: PretrainConfig, corpus: Corpus) -> tuple[DataConfig, Vocab] | None:
    """What the feed masks a dynamic corpus with: the config's masking parameters and the vocab's
    special ids (None for a static corpus)."""
    if corpus.masking == "static":
        return None
    params = DataConfig(max_seq_length=cfg.max_seq_length, max_predictions_per_seq=cfg.max_predictions_per_seq,
                        masked_lm_prob=cfg.masked_lm_prob, do_whole_word_mask=cfg.whole_word_mask)
    return params, Vocab.from_tokenizer(Tokenizer(cfg.vocab))


def check_corpus(cfg: PretrainConfig, path: str, vocab_size: int) -> Corpus:
    """The shards at `path`, checked against the model and the masking asked for."""
    corpus = check_files(resolve_files(path), cfg.max_seq_length, cfg.max_predictions_per_seq, vocab_size)
    if cfg.masking not in ("auto", corpus.masking):
        made = "unmasked rows (masking=dynamic)" if corpus.masking == "dynamic" else "masked instances"
        raise DataFeedError(f"masking={cfg.masking} was asked of {path}, which holds {made}: remake the data with "
                            f"masking={cfg.masking} or pass masking={corpus.masking}")
    pairs = corpus.params.get("next_sentence", True)
    if cfg.next_sentence and not pairs:
        raise DataFeedError(f"next_sentence=true was asked of {path}, an MLM-only corpus (no sentence pairs): "
                            f"pass next_sentence=false")
    if corpus.masking == "dynamic":
        if not cfg.vocab:
            raise DataFeedError(f"{path} is a dynamic corpus: pass vocab=PATH (its special ids place the masks)")
        made_with = corpus.params.get("vocab_sha256")
        if made_with and made_with != file_sha256(Path(cfg.vocab)):
            raise DataFeedError(f"vocab {cfg.vocab} is not the vocab {path} was made with")
    return corpus


def pretrain(cfg: PretrainConfig, stop) -> int:
    bert_config = cfg.bert_config()
    corpus = check_corpus(cfg, cfg.data, bert_config.vocab_size)
    eval_corpus = check_corpus(cfg, cfg.eval_data, bert_config.vocab_size) if cfg.eval_data else None
    if cfg.init:
        resolve_init(Path(cfg.init))  # a missing init fails before the process group forms
    run = open_run(cfg, bert_config)
    return train(cfg, Pretraining(cfg, run, corpus, eval_corpus), run, stop)


if __name__ == "__main__":
    sys.exit(main())
