"""Run configs: `RunConfig` holds what every stage shares; `PretrainConfig` (configs/pretrain.yaml),
`FinetuneConfig` (configs/finetune_sst2.yaml) and `DistillConfig` (configs/distill_sst2.yaml) add
their own fields. Each is built from YAML + `key=value` overrides (`load_config`), validated by the
class that declares a field, and saved with every checkpoint."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from bert.config import BertConfig, ConfigError, from_dict, merge, parse_overrides, read_mapping
from bert.data.config import MASKINGS
from bert.device import CHOICES as DEVICES
from bert.device_settings import HALF, JIT_LEVELS, MEMORY_SIZE, check_precision
from bert.glue.tasks import load_task
from bert.tokenization import read_vocab

PRECISIONS = ("fp32", *HALF)
DROPOUT_MASKS = ("auto", "host", "device")  # bert.dropout.DropoutInputs
OPTIMIZERS = ("adamw", "lamb")


def _at_least_one(obj, *keys: str) -> None:
    for key in keys:
        if getattr(obj, key) < 1:
            raise ConfigError(f"{key} must be at least 1, got {getattr(obj, key)}")


@dataclasses.dataclass
class OptimConfig:
    """Google's BERT recipe: AdamW (no bias correction), lr 1e-4, 10k warmup, linear decay to 0."""

    optimizer: str = "adamw"  # adamw | lamb
    learning_rate: float = 1e-4  # peak, reached at the end of warmup
    end_learning_rate: float = 0.0  # reached at the last step
    warmup_steps: int = 10000  # linear warmup from 0
    warmup_proportion: float = 0.0  # > 0: warmup over this share of all steps instead (finetuning's 10 %)
    power: float = 1.0  # of the polynomial decay; 1 = linear
    weight_decay: float = 0.01  # decoupled (AdamW); not on LayerNorm or biases
    beta1: float = 0.9  # decay of the first moment (Adam's m)
    beta2: float = 0.999  # decay of the second moment (Adam's v)
    eps: float = 1e-6  # added to sqrt(v); Google's BERT uses 1e-6 (not Adam's usual 1e-8)
    grad_clip_norm: float = 1.0  # global norm; 0 switches clipping off

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.learning_rate <= 0 or self.end_learning_rate < 0 or self.end_learning_rate > self.learning_rate:
            raise ConfigError("learning_rate must be positive and end_learning_rate in [0, learning_rate]")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip_norm < 0:
            raise ConfigError("warmup_steps, weight_decay and grad_clip_norm must be >= 0")
        if not 0 <= self.warmup_proportion < 1:
            raise ConfigError(f"warmup_proportion must be in [0, 1), got {self.warmup_proportion}")
        if not (0 < self.beta1 < 1 and 0 < self.beta2 < 1 and self.eps > 0):
            raise ConfigError("beta1/beta2 must be in (0, 1) and eps positive")

    def warmup(self, total_steps: int) -> int:
        """Warmup steps of a run of `total_steps`."""
        return int(self.warmup_proportion * total_steps) if self.warmup_proportion else self.warmup_steps


@dataclasses.dataclass
class RunConfig:
    """What every stage's run is made of: model, weights, device, batch, schedule, checkpoints, logs."""

    model: dict = dataclasses.field(default_factory=lambda: {"name": "L4-H256"})  # BertConfig fields or `name`
    model_config: str | None = None  # a bert_config.json / YAML the `model` fields start from (seed's --config)
    vocab: str | None = None  # vocab.txt: sets model.vocab_size (finetuning: default is the one next to init)
    init: str | None = None  # weights to start from: our checkpoint(s), an HF directory or a TF checkpoint
    output_dir: str = "outputs/run"  # checkpoints/ go here; a run finding them resumes
    log_dir: str = "logs"  # TensorBoard: <log_dir>/<run_name>/tb
    run_name: str | None = None  # default: the output folder's name
    device_target: str = "auto"  # auto (what the task sees: NPU, else GPU, else CPU) | CPU | GPU | Ascend
    jit: bool = True  # graph mode for the train step; false = PyNative, for debugging
    jit_level: str = "O0"  # the train step's mindspore.jit level: O0 kernel by kernel | O1 + graph-kernel fusion
    precision: str = "fp32"  # fp16/bf16: mixed precision on GPU/Ascend (bert.device_settings; seed's --amp)
    max_device_memory: str = ""  # e.g. "30GB": cap MindSpore's device memory pool; "": the device's all
    deterministic: bool = True  # ms.set_deterministic: bit-repeatable GPU/Ascend kernels and HCCL sums (slower there)
    dropout_masks: str = "auto"  # host (numpy) | device (in the graph) | auto: host on CPU; the same masks either way
    loss_scale: str = "dynamic"  # dynamic | static (mixed precision only; fp32 uses 1)
    loss_scale_value: float = 65536.0  # initial (dynamic) or fixed (static) scale
    train_batch_size: int = 32  # per device and micro-batch
    accumulation_steps: int = 1  # micro-batches per optimizer step
    epochs: int = 4  # passes over the training set
    total_steps: int = 0  # > 0 overrides epochs
    seed: int = 12345  # data order, dropout masks, fresh weights
    save_steps: int = 500  # checkpoint every N steps (and at the last step and on a stop request)
    keep_checkpoints: int = 2  # newest complete checkpoints kept
    on_nonfinite: str = "stop"  # after max_skipped_in_a_row: stop (exit code 3) | rollback (to the last checkpoint, past the batches since it)
    rollback_skip_batches: int = 0  # rollback: batches skipped beyond those from the checkpoint to the stuck step
    max_rollbacks: int = 3  # rollback: tries per run (kept in checkpoints) before it stops as `stop` does
    max_skipped_in_a_row: int | None = None  # non-finite steps in a row that set off on_nonfinite; None: 10 in fp32, 40 under a dynamic loss scale; 0: never
    step_timeout: float | None = None  # s without a step before the worker prints its stacks and exits 1 (bert.train.watchdog); None: max(600, 20 × median step); 0: off
    log_interval: int = 20  # steps per log line and TensorBoard point (averaged over them)
    eval_steps: int = 0  # also evaluate every N steps; always at each epoch end
    peak_tflops: float = 0.0  # the device's peak, for MFU; 0: bert.flops.PEAK_TFLOPS by device name (none on CPU)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)

    @property
    def seq_length(self) -> int:
        raise NotImplementedError

    def validate(self) -> None:
        if self.device_target not in DEVICES:
            raise ConfigError(f"device_target {self.device_target!r} is not one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.device_target != "auto":  # auto: checked once the device is known (bert.train.distributed)
            check_precision(self.device_target, self.precision)
        if self.jit_level not in JIT_LEVELS:
            raise ConfigError(f"jit_level {self.jit_level!r} is not one of {', '.join(JIT_LEVELS)}")
        if self.max_device_memory and not MEMORY_SIZE.match(self.max_device_memory):
            raise ConfigError(f"max_device_memory {self.max_device_memory!r} is not a size like '30GB'")
        if self.dropout_masks not in DROPOUT_MASKS:
            raise ConfigError(f"dropout_masks {self.dropout_masks!r} is not one of {', '.join(DROPOUT_MASKS)}")
        if self.loss_scale not in ("dynamic", "static") or self.loss_scale_value <= 0:
            raise ConfigError("loss_scale must be dynamic or static, loss_scale_value positive")
        _at_least_one(self, "train_batch_size", "accumulation_steps", "epochs", "save_steps", "keep_checkpoints",
                      "log_interval")
        if self.on_nonfinite not in ("stop", "rollback"):
            raise ConfigError(f"on_nonfinite {self.on_nonfinite!r} is not stop or rollback")
        if self.rollback_skip_batches < 0 or self.max_rollbacks < 0:
            raise ConfigError("rollback_skip_batches and max_rollbacks must be >= 0")
        if self.total_steps < 0 or self.eval_steps < 0 or self.peak_tflops < 0 or (self.max_skipped_in_a_row or 0) < 0 \
                or (self.step_timeout or 0) < 0:
            raise ConfigError("total_steps, eval_steps, peak_tflops, max_skipped_in_a_row and step_timeout must be >= 0")

    @property
    def skip_limit(self) -> int:
        """max_skipped_in_a_row, or its default: a dynamic loss scale may halve from 65536 down to 1
        (16 skips) before fp16/bf16 steps are finite again; fp32 has no such excuse."""
        if self.max_skipped_in_a_row is not None:
            return self.max_skipped_in_a_row
        return 40 if self.precision != "fp32" and self.loss_scale == "dynamic" else 10

    def check_seq_length(self, key: str) -> None:
        """`key` (the subclass's sequence length field) fits the model's position table."""
        positions = self.bert_config().max_position_embeddings
        if getattr(self, key) > positions:
            raise ConfigError(f"{key} {getattr(self, key)} exceeds the model's max_position_embeddings {positions}")

    def bert_config(self) -> BertConfig:
        """model_config file, then the `model` fields (null ones leave the file's value); a `vocab`
        file sets vocab_size to its length."""
        base = BertConfig.from_file(self.model_config).to_dict() if self.model_config else {}
        model = {k: v for k, v in self.model.items() if v is not None}
        if self.vocab:
            model["vocab_size"] = len(read_vocab(self.vocab))
        try:
            return BertConfig.from_dict(merge(base, model))
        except ConfigError as exc:
            raise ConfigError(f"model.{exc}") from None

    @property
    def run(self) -> str:
        return self.run_name or Path(self.output_dir).name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(cls, path=None, overrides=()):
    """`cls` (a RunConfig) from a YAML file and `key=value` overrides."""
    data = read_mapping(path) if path else {}
    return from_dict(cls, merge(data, parse_overrides(overrides)))


@dataclasses.dataclass
class PretrainConfig(RunConfig):
    """MLM+NSP pretraining on MindRecord shards (Google's phase 1 defaults)."""

    data: str = "data/examples"  # MindRecord folder or file (seed's --data_dir)
    eval_data: str | None = None  # held-out MindRecord shard(s), evaluated each epoch end / eval_steps
    output_dir: str = "outputs/pretrain"
    max_seq_length: int = 128  # of the examples in `data`
    max_predictions_per_seq: int = 20  # of the examples in `data` (a dynamic corpus: masked positions at most)
    next_sentence: bool = True  # false: MLM only — the model has no NSP head (needs an MLM-only corpus)
    masking: str = "auto"  # auto: the corpus's | static: masked by the data stage | dynamic: masked here every epoch
    masked_lm_prob: float = 0.15  # dynamic masking: share of an instance's tokens to predict
    whole_word_mask: bool = False  # dynamic masking: all WordPieces of a word together
    eval_batches: int = 50  # global batches of eval_data per evaluation

    @property
    def seq_length(self) -> int:
        return self.max_seq_length

    def validate(self) -> None:
        super().validate()
        _at_least_one(self, "max_seq_length", "max_predictions_per_seq", "eval_batches")
        self.check_seq_length("max_seq_length")
        if self.masking not in ("auto", *MASKINGS):
            raise ConfigError(f"masking {self.masking!r} is not one of auto, {', '.join(MASKINGS)}")
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ConfigError(f"masked_lm_prob must be in (0, 1), got {self.masked_lm_prob}")


@dataclasses.dataclass
class FinetuneConfig(RunConfig):
    """GLUE finetuning; defaults follow Google's compact-model recipe (4 epochs, 10 % warmup)."""

    task: str = "SST-2"  # a GLUE task: CoLA SST-2 MRPC STS-B QQP MNLI QNLI RTE WNLI (bert.glue.tasks)
    data_dir: str = "data/SST-2"  # the task's folder as GLUE distributes it (seed's --dataset_path)
    diagnostic: str | None = None  # MNLI only: AX's diagnostic.tsv; default <data_dir>/../diagnostic/diagnostic.tsv
    output_dir: str = "outputs/finetune/sst2"
    eval_batch_size: int = 64  # seed's --test_batch_size
    max_length: int = 64  # 64, 128, 256 or 512
    accuracy_threshold: float = 0.0  # keep a best checkpoint only from this dev score on (seed's --acc)
    optim: OptimConfig = dataclasses.field(
        default_factory=lambda: OptimConfig(learning_rate=1e-4, warmup_steps=0, warmup_proportion=0.1))

    @property
    def seq_length(self) -> int:
        return self.max_length

    def validate(self) -> None:
        super().validate()
        load_task(self.task)
        _at_least_one(self, "eval_batch_size")
        if self.max_length not in (64, 128, 256, 512):
            raise ConfigError(f"max_length must be 64, 128, 256 or 512, got {self.max_length}")
        self.check_seq_length("max_length")
        if not 0 <= self.accuracy_threshold <= 1:
            raise ConfigError("accuracy_threshold must be in [0, 1]")


@dataclasses.dataclass
class DistillConfig(FinetuneConfig):
    """Task distillation (Turc et al. 2019): `init` is the student's pretrained checkpoint,
    `teacher` a model finetuned on the task; loss = soft_weight · T² · KL(teacher_T ‖ student_T)
    + (1 − soft_weight) · hard-label cross-entropy (for STS-B: squared error to the teacher's
    score and to the label)."""

    teacher: str | None = None  # finetuned on the task: our model dir / checkpoints, HF dir or TF checkpoint
    teacher_vocab: str | None = None  # default: vocab.txt in or next to teacher; must equal the student's
    temperature: float = 1.0  # softmax temperature of both distributions (classification)
    soft_weight: float = 1.0  # 1: teacher only (the paper); 0: hard labels only
    transfer_data: str | None = None  # unlabeled examples (one per line, tab-separated pairs) added to train
    cache_teacher: bool = True  # teacher outputs computed once into <teacher_cache>/teacher_logits.npy
    teacher_cache: str | None = None  # that folder (default output_dir); students sharing one compute it once
    output_dir: str = "outputs/distill/sst2"

    def validate(self) -> None:
        super().validate()
        if not self.teacher:
            raise ConfigError("teacher is not set: pass teacher=PATH (a model finetuned on the task)")
        if self.temperature <= 0 or not 0 <= self.soft_weight <= 1:
            raise ConfigError(f"temperature must be positive and soft_weight in [0, 1], got "
                              f"{self.temperature} and {self.soft_weight}")
