"""Run configs — `PretrainConfig` (configs/pretrain.yaml), `FinetuneConfig`
(configs/finetune_sst2.yaml) and `DistillConfig` (configs/distill_sst2.yaml) — loaded from YAML + `key=value` overrides, saved with every checkpoint."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from bert.config import BertConfig, ConfigError, from_dict, merge, parse_overrides, read_mapping
from bert.device import CHOICES as DEVICES

PRECISIONS = ("fp32", "fp16", "bf16")
DROPOUT_MASKS = ("auto", "host", "device")  # bert.dropout.DropoutInputs
OPTIMIZERS = ("adamw", "lamb")


@dataclasses.dataclass
class OptimConfig:
    """Google's BERT recipe: AdamW (no bias correction), lr 1e-4, 10k warmup, linear decay to 0."""

    optimizer: str = "adamw"
    learning_rate: float = 1e-4
    end_learning_rate: float = 0.0
    warmup_steps: int = 10000
    power: float = 1.0
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-6
    grad_clip_norm: float = 1.0  # global norm; 0 switches clipping off

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.learning_rate <= 0 or self.end_learning_rate < 0 or self.end_learning_rate > self.learning_rate:
            raise ConfigError("learning_rate must be positive and end_learning_rate in [0, learning_rate]")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip_norm < 0:
            raise ConfigError("warmup_steps, weight_decay and grad_clip_norm must be >= 0")
        if not (0 < self.beta1 < 1 and 0 < self.beta2 < 1 and self.eps > 0):
            raise ConfigError("beta1/beta2 must be in (0, 1) and eps positive")


@dataclasses.dataclass
class PretrainConfig:
    model: dict = dataclasses.field(default_factory=lambda: {"name": "L4-H256"})  # BertConfig fields or name
    model_config: str | None = None  # a bert_config.json / YAML to start from (seed's --config)
    data: str = "data/examples"  # MindRecord folder or file (seed's --data_dir)
    vocab: str | None = None  # the vocab the data was made with: sets model.vocab_size
    eval_data: str | None = None  # held-out MindRecord shard(s)
    output_dir: str = "outputs/pretrain"  # checkpoints/ go here; resumed from when present
    log_dir: str = "logs"  # TensorBoard: <log_dir>/<run_name>/tb
    run_name: str | None = None  # default: the output folder's name
    init: str | None = None  # weights only, fresh schedule (phase 2 from phase 1; imported Google/HF)
    device_target: str = "auto"  # auto (what the task sees: NPU, else GPU, else CPU) | CPU | GPU | Ascend
    jit: bool = True  # graph mode for the train step; false = PyNative, for debugging
    precision: str = "fp32"  # fp16/bf16: mindspore.amp mixed precision (Ascend/GPU)
    deterministic: bool = True  # ms.set_deterministic: bit-repeatable GPU/Ascend kernels and HCCL sums (slower there)
    dropout_masks: str = "auto"  # host (numpy) | device (in the graph) | auto: host on CPU; the same masks either way
    loss_scale: str = "dynamic"  # dynamic | static
    loss_scale_value: float = 65536.0  # initial (dynamic) or fixed (static) scale; fp32 uses 1
    train_batch_size: int = 32  # per device and micro-batch
    accumulation_steps: int = 1
    epochs: int = 15
    total_steps: int = 0  # > 0 overrides epochs
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    seed: int = 12345
    save_steps: int = 1000
    keep_checkpoints: int = 3
    log_interval: int = 10
    eval_steps: int = 0  # evaluate every N steps (0: at the end only, when eval_data is set)
    eval_batches: int = 50
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)

    def validate(self) -> None:
        if self.device_target not in DEVICES:
            raise ConfigError(f"device_target {self.device_target!r} is not one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.precision != "fp32" and self.device_target == "CPU":
            raise ConfigError(f"precision {self.precision} needs GPU or Ascend: MindSpore has no fast "
                              f"half-precision CPU kernels (use fp32)")
        if self.dropout_masks not in DROPOUT_MASKS:
            raise ConfigError(f"dropout_masks {self.dropout_masks!r} is not one of {', '.join(DROPOUT_MASKS)}")
        if self.loss_scale not in ("dynamic", "static") or self.loss_scale_value <= 0:
            raise ConfigError("loss_scale must be dynamic or static, loss_scale_value positive")
        for key in ("train_batch_size", "accumulation_steps", "epochs", "save_steps", "keep_checkpoints",
                    "log_interval", "eval_batches", "max_seq_length", "max_predictions_per_seq", "eval_batch_size"):
            if getattr(self, key, 1) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if getattr(self, "total_steps", 0) < 0 or self.eval_steps < 0:
            raise ConfigError("total_steps and eval_steps must be >= 0")
        positions = self.bert_config().max_position_embeddings
        key = "max_seq_length" if hasattr(self, "max_seq_length") else "max_length"
        if getattr(self, key) > positions:
            raise ConfigError(f"{key} {getattr(self, key)} exceeds the model's max_position_embeddings {positions}")

    def bert_config(self) -> BertConfig:
        """model_config file, then the `model` fields; a `vocab` file sets vocab_size to its length."""
        base = BertConfig.from_file(self.model_config).to_dict() if self.model_config else {}
        model = dict(self.model)
        if self.vocab:
            from bert.tokenization import read_vocab

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
    """`cls` (PretrainConfig or FinetuneConfig) from a YAML file and `key=value` overrides."""
    data = read_mapping(path) if path else {}
    return from_dict(cls, merge(data, parse_overrides(overrides)))


@dataclasses.dataclass
class FinetuneConfig:
    """SST-2 finetuning; defaults follow Google's compact-model recipe (4 epochs, 10 % warmup)."""

    model: dict = dataclasses.field(default_factory=lambda: {"name": "L4-H256"})
    model_config: str | None = None
    init: str | None = None  # our checkpoint, an HF directory or a TF checkpoint (seed's --bert_ckpt)
    vocab: str | None = None  # default: vocab.txt next to the init checkpoint
    data_dir: str = "data/SST-2"  # GLUE layout: train.tsv, dev.tsv, test.tsv (seed's --dataset_path)
    output_dir: str = "outputs/finetune/sst2"
    log_dir: str = "logs"
    run_name: str | None = None
    num_labels: int = 2
    device_target: str = "auto"
    jit: bool = True
    precision: str = "fp32"  # fp16/bf16 on GPU/Ascend (seed's --amp)
    deterministic: bool = True
    dropout_masks: str = "auto"
    loss_scale: str = "dynamic"
    loss_scale_value: float = 65536.0
    train_batch_size: int = 32
    eval_batch_size: int = 64  # seed's --test_batch_size
    accumulation_steps: int = 1
    epochs: int = 4
    max_length: int = 64  # 64, 128, 256 or 512
    warmup_proportion: float = 0.1
    accuracy_threshold: float = 0.0  # keep a best checkpoint only from this dev accuracy on (seed's --acc)
    eval_steps: int = 0  # also evaluate every N steps (always at each epoch end)
    save_steps: int = 500
    keep_checkpoints: int = 2
    log_interval: int = 20
    seed: int = 12345
    optim: OptimConfig = dataclasses.field(default_factory=lambda: OptimConfig(learning_rate=1e-4, warmup_steps=0))

    def validate(self) -> None:
        PretrainConfig.validate(self)  # the shared fields follow the same rules
        if self.max_length not in (64, 128, 256, 512):
            raise ConfigError(f"max_length must be 64, 128, 256 or 512, got {self.max_length}")
        if not 0 <= self.warmup_proportion < 1 or not 0 <= self.accuracy_threshold <= 1:
            raise ConfigError("warmup_proportion must be in [0, 1) and accuracy_threshold in [0, 1]")
        if self.num_labels < 2:
            raise ConfigError(f"num_labels must be at least 2, got {self.num_labels}")

    bert_config = PretrainConfig.bert_config
    run = PretrainConfig.run
    to_dict = PretrainConfig.to_dict


@dataclasses.dataclass
class DistillConfig(FinetuneConfig):
    """Task distillation (Turc et al. 2019): `init` is the student's pretrained checkpoint,
    `teacher` a model finetuned on the task; loss = soft_weight · T² · KL(teacher_T ‖ student_T)
    + (1 − soft_weight) · hard-label cross-entropy."""

    teacher: str = "outputs/finetune/sst2-L4-H256/best"  # our model dir / checkpoints, HF dir or TF checkpoint
    teacher_vocab: str | None = None  # default: vocab.txt in or next to teacher; must equal the student's
    temperature: float = 1.0
    soft_weight: float = 1.0  # 1: teacher only (the paper); 0: hard labels only
    transfer_data: str | None = None  # unlabeled sentences, one per line, added to train.tsv (the transfer set)
    cache_teacher: bool = True  # teacher logits computed once into output_dir/teacher_logits.npy
    output_dir: str = "outputs/distill/sst2"

    def validate(self) -> None:
        FinetuneConfig.validate(self)
        if not self.teacher:
            raise ConfigError("teacher is not set: pass teacher=PATH (a model finetuned on the task)")
        if self.temperature <= 0 or not 0 <= self.soft_weight <= 1:
            raise ConfigError(f"temperature must be positive and soft_weight in [0, 1], got "
                              f"{self.temperature} and {self.soft_weight}")
