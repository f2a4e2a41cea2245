"""BERT in MindSpore: token ids in, hidden states / MLM+NSP logits / class logits out.

Dropout is `bert.dropout.Dropout`: it acts only in training mode and only when the caller passes
`dropout` (`bert.dropout.DropoutInputs`: the host masks or the examples' keys).

Parameter names follow Hugging Face's BERT one to one (`*.embedding_table` for `*.weight` of an
embedding, `gamma`/`beta` for LayerNorm `weight`/`bias`), so checkpoints map without a table.
"""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import TruncatedNormal, initializer

from bert.config import BertConfig
from bert.dropout import Dropout
from bert.kernels import GELU, Dense, OutputNLL, output_logits


def _normal(config: BertConfig) -> TruncatedNormal:
    """Google's init: normal(0, initializer_range) truncated at two standard deviations."""
    r = config.initializer_range
    return TruncatedNormal(sigma=r, a=-2 * r, b=2 * r)


def _dense(config: BertConfig, n_in: int, n_out: int) -> Dense:
    return Dense(n_in, n_out, weight_init=_normal(config))


def _activation(name: str) -> nn.Cell:
    if name == "relu":
        return nn.ReLU()
    if name == "gelu":  # BERT's exact erf GELU
        return GELU()
    return nn.GELU(approximate=True)


class LayerNorm(nn.LayerNorm):
    """LayerNorm over the last axis with BERT's epsilon (MindSpore's default is 1e-7)."""

    def __init__(self, config: BertConfig):
        super().__init__((config.hidden_size,), epsilon=config.layer_norm_eps)


class BertEmbeddings(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        init = _normal(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, embedding_table=init)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size,
                                                embedding_table=init)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size,
                                                  embedding_table=init)
        self.LayerNorm = LayerNorm(config)
        self.dropout = Dropout(config.hidden_dropout_prob, "embeddings", (None, config.hidden_size))

    def construct(self, input_ids, token_type_ids, dropout=None):
        positions = ops.arange(input_ids.shape[1], dtype=ms.int32)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x), dropout)


class BertSelfAttention(nn.Cell):
    def __init__(self, config: BertConfig, site: str):
        super().__init__()
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = h // self.num_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.query = _dense(config, h, h)
        self.key = _dense(config, h, h)
        self.value = _dense(config, h, h)
        self.dropout = Dropout(config.attention_probs_dropout_prob, f"{site}.probs",
                               (config.num_attention_heads, None, None))
        self.scores = ops.BatchMatMul(transpose_b=True)
        self.context = ops.BatchMatMul()
        self.softmax = nn.Softmax(axis=-1)

    def _heads(self, x):
        b, s, _ = x.shape
        return x.reshape(b, s, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def construct(self, hidden, mask_bias, dropout=None):
        q = self._heads(self.query(hidden))
        k = self._heads(self.key(hidden))
        v = self._heads(self.value(hidden))
        probs = self.dropout(self.softmax(self.scores(q * self.scale, k) + mask_bias), dropout)
        b, _, s, _ = q.shape
        return self.context(probs, v).transpose(0, 2, 1, 3).reshape(b, s, self.num_heads * self.head_dim)


class BertSelfOutput(nn.Cell):
    """Projection + dropout + residual + LayerNorm (after attention and after the FFN)."""

    def __init__(self, config: BertConfig, n_in: int, site: str):
        super().__init__()
        self.dense = _dense(config, n_in, config.hidden_size)
        self.LayerNorm = LayerNorm(config)
        self.dropout = Dropout(config.hidden_dropout_prob, site, (None, config.hidden_size))

    def construct(self, x, residual, dropout=None):
        return self.LayerNorm(self.dropout(self.dense(x), dropout) + residual)


class BertAttention(nn.Cell):
    def __init__(self, config: BertConfig, site: str):
        super().__init__()
        self.self = BertSelfAttention(config, site)
        self.output = BertSelfOutput(config, config.hidden_size, f"{site}.output")

    def construct(self, hidden, mask_bias, dropout=None):
        return self.output(self.self(hidden, mask_bias, dropout), hidden, dropout)


class BertIntermediate(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = _dense(config, config.hidden_size, config.intermediate_size)
        self.act = _activation(config.hidden_act)

    def construct(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Cell):
    def __init__(self, config: BertConfig, index: int):
        super().__init__()
        self.attention = BertAttention(config, f"layer.{index}.attention")
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size, f"layer.{index}.output")

    def construct(self, hidden, mask_bias, dropout=None):
        attended = self.attention(hidden, mask_bias, dropout)
        return self.output(self.intermediate(attended), attended, dropout)


class BertEncoder(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.CellList([BertLayer(config, i) for i in range(config.num_hidden_layers)])

    def construct(self, hidden, mask_bias, dropout=None):
        for layer in self.layer:
            hidden = layer(hidden, mask_bias, dropout)
        return hidden


class BertPooler(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = _dense(config, config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def construct(self, hidden):
        return self.activation(self.dense(hidden[:, 0]))


class BertModel(nn.Cell):
    """Encoder: (input_ids, token_type_ids, attention_mask, dropout) → (sequence_output, pooled_output)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def construct(self, input_ids, token_type_ids=None, attention_mask=None, dropout=None):
        if token_type_ids is None:
            token_type_ids = ops.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = ops.ones_like(input_ids)
        hidden = self.embeddings(input_ids, token_type_ids, dropout)
        # The standard extended mask: 0 where attended, -10000 on padding, broadcast over heads.
        mask_bias = (1.0 - attention_mask[:, None, None, :].astype(hidden.dtype)) * -10000.0
        hidden = self.encoder(hidden, mask_bias, dropout)
        pooled = self.pooler(hidden) if self.pooler is not None else hidden[:, 0]
        return hidden, pooled


class BertPredictionHeadTransform(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = _dense(config, config.hidden_size, config.hidden_size)
        self.transform_act_fn = _activation(config.hidden_act)
        self.LayerNorm = LayerNorm(config)

    def construct(self, x):
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class BertLMPredictionHead(nn.Cell):
    """Transform, then a decoder that is the (tied) word-embedding table, plus an output bias."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.bias = Parameter(initializer("zeros", (config.vocab_size,)), name="bias")
        self.output_nll = OutputNLL()

    def construct(self, hidden, embedding_table):
        h = self.transform(hidden)
        logits = output_logits(h.reshape(-1, h.shape[-1]), embedding_table, self.bias)
        return logits.reshape(h.shape[:-1] + (logits.shape[-1],))

    def nll(self, hidden, embedding_table, labels):
        """[..., H] hidden states, [...] label ids → (nll, predicted id), flattened; no logits kept for the caller."""
        h = self.transform(hidden)
        nll, predicted, _ = self.output_nll(h.reshape(-1, h.shape[-1]), ops.cast(embedding_table, h.dtype),
                                            ops.cast(self.bias, h.dtype), labels.reshape(-1))  # bert.kernels: why cast
        return nll, predicted


class BertPreTrainingHeads(nn.Cell):
    """The MLM head, and the NSP head unless `next_sentence` is false (MLM-only pretraining)."""

    def __init__(self, config: BertConfig, next_sentence: bool = True):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = _dense(config, config.hidden_size, 2) if next_sentence else None

    def construct(self, sequence_output, pooled_output, embedding_table):
        return self.predictions(sequence_output, embedding_table), self.nsp(pooled_output)

    def nsp(self, pooled_output):
        return None if self.seq_relationship is None else self.seq_relationship(pooled_output)


def gather_positions(sequence_output, positions):
    """[B,S,H] hidden states, [B,P] positions → [B,P,H] (Google's gather_indexes)."""
    b, s, h = sequence_output.shape
    offsets = (ops.arange(b, dtype=positions.dtype) * s).reshape(-1, 1)
    flat = (positions + offsets).reshape(-1)
    return ops.gather(sequence_output.reshape(-1, h), flat, 0).reshape(b, positions.shape[1], h)


class BertForPreTraining(nn.Cell):
    """BERT + MLM head (tied decoder) + NSP head → (mlm_logits, nsp_logits); with `next_sentence`
    false there is no NSP head and nsp_logits is None (MLM only, RoBERTa's recipe).

    With `masked_lm_positions` [B,P] the MLM head runs only at those positions (Google's way:
    [B,P,V] logits instead of [B,S,V]); without it, at every position.
    """

    def __init__(self, config: BertConfig, next_sentence: bool = True):
        super().__init__()
        self.config = config
        self.next_sentence = next_sentence
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config, next_sentence)

    def construct(self, input_ids, token_type_ids=None, attention_mask=None, masked_lm_positions=None,
                  dropout=None):
        sequence_output, pooled_output = self.bert(input_ids, token_type_ids, attention_mask, dropout)
        if masked_lm_positions is not None:
            sequence_output = gather_positions(sequence_output, masked_lm_positions)
        return self.cls(sequence_output, pooled_output, self.bert.embeddings.word_embeddings.embedding_table)

    def mlm_nll(self, input_ids, token_type_ids, attention_mask, masked_lm_positions, masked_lm_ids,
                dropout=None):
        """The training path: (MLM nll [B·P], predicted ids [B·P], NSP logits [B, 2] or None), the MLM
        head at the masked positions only and without [B·P, V] logits (`layers.OutputNLL`)."""
        sequence_output, pooled_output = self.bert(input_ids, token_type_ids, attention_mask, dropout)
        hidden = gather_positions(sequence_output, masked_lm_positions)
        table = self.bert.embeddings.word_embeddings.embedding_table
        nll, predicted = self.cls.predictions.nll(hidden, table, masked_lm_ids)
        return nll, predicted, self.cls.nsp(pooled_output)


class BertForSequenceClassification(nn.Cell):
    """BERT + dropout + linear classifier on the pooled output → logits [B, num_labels]."""

    def __init__(self, config: BertConfig, num_labels: int = 2):
        super().__init__()
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config)
        self.dropout = Dropout(config.hidden_dropout_prob, "classifier", (config.hidden_size,))
        self.classifier = _dense(config, config.hidden_size, num_labels)

    def construct(self, input_ids, token_type_ids=None, attention_mask=None, dropout=None):
        _, pooled = self.bert(input_ids, token_type_ids, attention_mask, dropout)
        return self.classifier(self.dropout(pooled, dropout))
