"""Loss nets: a model + a batch's tensors in, (loss, metric sums) out — pretraining's MLM + NSP,
classification / regression and distillation.

Every loss is a sum over the micro-batch divided by a denominator of the *global* batch (all
micro-batches of all ranks, passed in: Google's MLM loss sum(weights · nll) / (sum(weights) +
1e-5) over the masked tokens, the example count elsewhere), so per-micro-batch, per-rank losses
and gradients simply add up to the full-batch ones: accumulation and data parallelism change
nothing numerically. Inputs come in the model's order; each loss net takes the model's `dropout`
input last (`bert.dropout.DropoutInputs`), None for evaluation.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops


def token_nll(logits, labels):
    """Cross-entropy per position as logsumexp − the label's logit, in elementwise ops: on CPU
    MindSpore's LogSoftmaxGrad alone took 9 % of a pretraining step, ops.cross_entropy more."""
    logits = logits.astype(ms.float32)
    shifted = logits - ops.stop_gradient(logits.max(-1, keepdims=True))
    return ops.log(ops.exp(shifted).sum(-1)) - ops.gather_elements(shifted, -1, labels.expand_dims(-1)).squeeze(-1)


class PretrainingLoss(nn.Cell):
    """MLM + NSP (MLM alone for a model without the NSP head); metric sums (MLM nll, NSP nll, MLM
    correct, NSP correct), the NSP ones 0 without the head."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)  # keep the model's parameter names
        self.model = model

    def construct(self, input_ids, segment_ids, input_mask, masked_lm_positions, masked_lm_ids,
                  masked_lm_weights, next_sentence_labels, mlm_denominator, nsp_denominator, dropout=None):
        mlm_nll, mlm_predicted, nsp_logits = self.model.mlm_nll(input_ids, segment_ids, input_mask,
                                                               masked_lm_positions, masked_lm_ids, dropout)
        weights = masked_lm_weights.reshape(-1)
        mlm_sum = (mlm_nll * weights).sum()
        mlm_correct = ((mlm_predicted == masked_lm_ids.reshape(-1)).astype(ms.float32) * weights).sum()
        if nsp_logits is None:
            return mlm_sum / mlm_denominator, (mlm_sum, mlm_sum * 0, mlm_correct, mlm_correct * 0)
        labels = next_sentence_labels.reshape(-1)
        nsp_sum = token_nll(nsp_logits, labels).sum()
        loss = mlm_sum / mlm_denominator + nsp_sum / nsp_denominator
        nsp_correct = (nsp_logits.argmax(-1) == labels).astype(ms.float32).sum()
        return loss, (mlm_sum, nsp_sum, mlm_correct, nsp_correct)


def example_loss(outputs, labels, regression: bool):
    """Per example: cross-entropy of class logits, or squared error of a one-output score (STS-B)."""
    if regression:
        return ops.square(outputs.astype(ms.float32).reshape(-1) - labels)
    return token_nll(outputs, labels)


class ClassificationLoss(nn.Cell):
    """Sequence(-pair) classification or regression; metric sums (loss sum,)."""

    def __init__(self, model, regression: bool = False):
        super().__init__(auto_prefix=False)
        self.model = model
        self.regression = regression

    def construct(self, input_ids, token_type_ids, attention_mask, labels, denominator, dropout=None):
        outputs = self.model(input_ids, token_type_ids, attention_mask, dropout)
        loss_sum = example_loss(outputs, labels, self.regression).sum()
        return loss_sum / denominator, (loss_sum,)


class DistillationLoss(nn.Cell):
    """The student against the teacher's outputs: soft_weight · soft + (1 − soft_weight) · hard,
    summed over the micro-batch, divided by the global batch size. Classification: soft = T² ·
    KL(softmax(t/T) ‖ softmax(s/T)), hard = cross-entropy with the label; regression (STS-B):
    soft = (s − t)², hard = (s − label)². The hard term counts where label_weights is 1 (labelled
    rows; transfer rows have 0). Metric sums: (soft sum, hard sum)."""

    def __init__(self, model, temperature: float, soft_weight: float, regression: bool = False):
        super().__init__(auto_prefix=False)
        self.model = model
        self.temperature, self.soft_weight, self.regression = temperature, soft_weight, regression

    def construct(self, input_ids, token_type_ids, attention_mask, labels, label_weights, teacher_outputs,
                  denominator, dropout=None):
        outputs = self.model(input_ids, token_type_ids, attention_mask, dropout).astype(ms.float32)
        if self.regression:
            soft_sum = ops.square(outputs - teacher_outputs).sum()
        else:
            t = self.temperature
            teacher_log_p = ops.log_softmax(teacher_outputs / t, -1)
            kl = (ops.exp(teacher_log_p) * (teacher_log_p - ops.log_softmax(outputs / t, -1))).sum(-1)
            soft_sum = kl.sum() * (t * t)
        hard_sum = (example_loss(outputs, labels, self.regression) * label_weights).sum()
        loss = (self.soft_weight * soft_sum + (1.0 - self.soft_weight) * hard_sum) / denominator
        return loss, (soft_sum, hard_sum)
