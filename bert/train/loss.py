"""Pretraining loss: a batch of MindRecord columns in, Google's MLM + NSP loss and metrics out.

The MLM loss is Google's sum(weights · nll) / (sum(weights) + 1e-5) and the NSP loss the mean
over examples — with both denominators taken over the *global* batch (all micro-batches of all
ranks, passed in), so per-micro-batch, per-rank losses and gradients simply add up to the
full-batch ones: accumulation and data parallelism change nothing numerically. Each loss net
takes the model's `dropout` input last (`bert.dropout.DropoutInputs`), None for evaluation.
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
    def __init__(self, model):
        super().__init__(auto_prefix=False)  # keep the model's parameter names
        self.model = model

    def construct(self, input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids,
                  masked_lm_weights, next_sentence_labels, mlm_denominator, nsp_denominator, dropout=None):
        mlm_nll, mlm_predicted, nsp_logits = self.model.mlm_nll(input_ids, segment_ids, input_mask,
                                                               masked_lm_positions, masked_lm_ids, dropout)
        weights = masked_lm_weights.reshape(-1)
        labels = next_sentence_labels.reshape(-1)
        mlm_sum = (mlm_nll * weights).sum()
        nsp_sum = token_nll(nsp_logits, labels).sum()
        loss = mlm_sum / mlm_denominator + nsp_sum / nsp_denominator
        mlm_correct = ((mlm_predicted == masked_lm_ids.reshape(-1)).astype(ms.float32) * weights).sum()
        nsp_correct = (nsp_logits.argmax(-1) == labels).astype(ms.float32).sum()
        return loss, (mlm_sum, nsp_sum, mlm_correct, nsp_correct)


class ClassificationLoss(nn.Cell):
    """Sequence classification: cross-entropy summed over the micro-batch, divided by the global
    batch size (passed in), plus (nll sum, correct count) for metrics."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, input_ids, token_type_ids, attention_mask, labels, denominator, dropout=None):
        logits = self.model(input_ids, token_type_ids, attention_mask, dropout)
        nll_sum = token_nll(logits, labels).sum()
        correct = (logits.argmax(-1) == labels).astype(ms.float32).sum()
        return nll_sum / denominator, (nll_sum, correct)


class DistillationLoss(nn.Cell):
    """Student logits against the teacher's: soft_weight · T² · KL(softmax(t/T) ‖ softmax(s/T)) +
    (1 − soft_weight) · cross-entropy with the label where there is one (label_weights 1, else 0),
    summed over the micro-batch and divided by the global batch size; metrics: (soft sum, hard
    sum, correct labelled)."""

    def __init__(self, model, temperature: float, soft_weight: float):
        super().__init__(auto_prefix=False)
        self.model = model
        self.temperature, self.soft_weight = temperature, soft_weight

    def construct(self, input_ids, token_type_ids, attention_mask, labels, label_weights, teacher_logits,
                  denominator, dropout=None):
        logits = self.model(input_ids, token_type_ids, attention_mask, dropout).astype(ms.float32)
        t = self.temperature
        teacher_log_p = ops.log_softmax(teacher_logits / t, -1)
        kl = (ops.exp(teacher_log_p) * (teacher_log_p - ops.log_softmax(logits / t, -1))).sum(-1)
        soft_sum = kl.sum() * (t * t)
        hard_sum = (token_nll(logits, labels) * label_weights).sum()
        correct = ((logits.argmax(-1) == labels).astype(ms.float32) * label_weights).sum()
        loss = (self.soft_weight * soft_sum + (1.0 - self.soft_weight) * hard_sum) / denominator
        return loss, (soft_sum, hard_sum, correct)
