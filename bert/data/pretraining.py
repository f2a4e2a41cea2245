"""Google's create_pretraining_data algorithm over token ids: a shard's documents in, MLM+NSP
training instances out as fixed-length numpy columns, one dupe pass at a time.

Faithful to google-research/bert: segments packed up to max_seq_length - 3 (a shorter random
target with short_seq_prob), a 50 % random next segment from another document, the longer side
truncated from a random end, masked_lm_prob of the tokens masked (at most
max_predictions_per_seq) with 80 % [MASK] / 10 % random token / 10 % unchanged, optional
whole-word masking over `##` pieces. Differences: random documents come from the same shard
(memory stays one shard), instances are shuffled within a dupe pass, not across the corpus, and
the random draws differ (packing draws from `random.Random`; truncation ends and masks are drawn
in bulk from numpy with the same distributions as Google's one-at-a-time draws).
"""
from __future__ import annotations

import bisect
import dataclasses
import hashlib
import random
from typing import Iterator

import numpy as np

from bert import counter
from bert.data.config import DataConfig


@dataclasses.dataclass
class Vocab:
    """What the algorithm needs from a vocabulary, as ids."""

    size: int
    cls_id: int
    sep_id: int
    mask_id: int
    pad_id: int
    is_subword: np.ndarray  # bool per id: the token starts with "##"

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "Vocab":
        pieces = np.array([t.startswith("##") for t in tokenizer.vocab], dtype=bool)
        return cls(tokenizer.vocab_size, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id,
                   tokenizer.pad_id, pieces)


@dataclasses.dataclass
class Documents:
    """A shard's documents as one id array: sentence k is tokens[starts[k]:starts[k + 1]], and
    document d holds sentences first[d] .. first[d + 1] - 1 (no sentence or document is empty)."""

    tokens: np.ndarray  # int32
    starts: list[int]
    first: list[int]

    @classmethod
    def from_counts(cls, tokens: np.ndarray, counts: np.ndarray, doc_sizes: list[int]) -> "Documents":
        """`counts`: ids per sentence, documents in order, `doc_sizes` sentences each; empty
        sentences and documents are dropped."""
        doc_of = np.repeat(np.arange(len(doc_sizes)), doc_sizes)[counts > 0]
        starts = np.concatenate([[0], np.cumsum(counts[counts > 0])])
        first = np.searchsorted(doc_of, np.arange(len(doc_sizes) + 1))
        return cls(tokens, starts.tolist(), np.unique(first).tolist())

    def __len__(self) -> int:
        return len(self.first) - 1


@dataclasses.dataclass
class Spans:
    """Instances before masking: segment A is tokens[a:a + a_len], B is tokens[b:b + b_len]."""

    a: np.ndarray
    a_len: np.ndarray
    b: np.ndarray
    b_len: np.ndarray
    random_next: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, index) -> "Spans":
        return Spans(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))


def shard_seed(seed: int, shard_name: str) -> int:
    """A per-shard seed that does not depend on which worker or task runs the shard."""
    digest = hashlib.sha256(f"{seed}:{shard_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def pack(docs: Documents, order: list[int], cfg: DataConfig, rng: random.Random) -> Spans:
    """One pass of Google's create_instances_from_document over every document, in `order`."""
    starts, first = docs.starts, docs.first
    max_num_tokens = cfg.max_seq_length - 3
    rows = []
    for k, d in enumerate(order):
        s0, s1 = first[d], first[d + 1]
        target = max_num_tokens
        if rng.random() < cfg.short_seq_prob:
            target = rng.randint(2, max_num_tokens)
        chunk, i = s0, s0
        while i < s1:
            if i == s1 - 1 or starts[i + 1] - starts[chunk] >= target:
                n = i - chunk + 1
                a_end = chunk + (rng.randint(1, n - 1) if n >= 2 else 1)
                a_len = starts[a_end] - starts[chunk]
                if n == 1 or rng.random() < 0.5:
                    for _ in range(10):
                        r = rng.randint(0, len(order) - 1)
                        if r != k:
                            break
                    r0, r1 = first[order[r]], first[order[r] + 1]
                    j = rng.randint(r0, r1 - 1)
                    # sentences j.. until B reaches target - len(A) (at least one)
                    end = bisect.bisect_left(starts, starts[j] + target - a_len, j + 1, r1)
                    rows.append((starts[chunk], a_len, starts[j], starts[end] - starts[j], 1))
                    i = a_end - 1  # put the unused segments back
                else:
                    rows.append((starts[chunk], a_len, starts[a_end], starts[i + 1] - starts[a_end], 0))
                chunk = i + 1
            i += 1
    a, a_len, b, b_len, random_next = np.array(rows, np.int64).reshape(-1, 5).T
    return Spans(a, a_len, b, b_len, random_next.astype(bool))


def pack_single(docs: Documents, order: list[int], cfg: DataConfig) -> Spans:
    """MLM-only instances: each document's sentences packed in order into segments of at most
    max_seq_length - 2 tokens ([CLS] X [SEP]), never across documents; a longer sentence alone is
    cut at that length."""
    starts, first, limit = docs.starts, docs.first, cfg.max_seq_length - 2
    rows = []
    for d in order:
        chunk = first[d]
        for i in range(first[d], first[d + 1]):
            if starts[i + 1] - starts[chunk] > limit and i > chunk:  # sentence i starts the next segment
                rows.append((starts[chunk], starts[i] - starts[chunk]))
                chunk = i
        rows.append((starts[chunk], starts[first[d + 1]] - starts[chunk]))
    a, a_len = np.array(rows, np.int64).reshape(-1, 2).T
    a_len = np.minimum(a_len, limit)
    zeros = np.zeros_like(a)
    return Spans(a, a_len, a + a_len, zeros, zeros.astype(bool))


def truncate(spans: Spans, max_num_tokens: int, rng: np.random.Generator) -> Spans:
    """Google's truncate_seq_pair in closed form: it trims the longer side one token at a time
    (B on ties), so the counts per side are fixed; each token comes off the front with p = 0.5."""
    la, lb = spans.a_len, spans.b_len
    excess = np.maximum(la + lb - max_num_tokens, 0)
    first = np.minimum(excess, np.abs(la - lb))  # from the longer side, until both are equal
    rest = excess - first  # then alternately, B first
    cut_a = np.where(la > lb, first, 0) + rest // 2
    cut_b = np.where(la > lb, 0, first) + (rest + 1) // 2
    return Spans(spans.a + rng.binomial(cut_a, 0.5), la - cut_a, spans.b + rng.binomial(cut_b, 0.5), lb - cut_b,
                 spans.random_next)


def dupe_passes(docs: Documents, cfg: DataConfig, seed: int) -> Iterator[Spans]:
    """The shuffled, truncated instances of each of the `cfg.dupes` passes."""
    rng, bulk = random.Random(seed), np.random.default_rng(seed)
    order = list(range(len(docs)))
    rng.shuffle(order)
    if not order:
        return
    for _ in range(cfg.dupes):
        if cfg.next_sentence:
            spans = truncate(pack(docs, order, cfg, rng), cfg.max_seq_length - 3, bulk)
        else:
            spans = pack_single(docs, order, cfg)
        yield spans[bulk.permutation(len(spans))]


def assemble(tokens: np.ndarray, spans: Spans, n: int, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """[CLS] A [SEP] B [SEP] of each instance ([CLS] A [SEP] without B: MLM only), padded to `n`:
    (ids int32 [rows, n], lengths)."""
    pos = np.arange(n, dtype=np.int32)
    la, lb = spans.a_len.astype(np.int32), spans.b_len.astype(np.int32)
    length = la + lb + 3 - (lb == 0)
    real = pos < length[:, None]
    # token k of A at position k + 1, of B at la + 2 + k
    source = np.where(pos <= la[:, None], (spans.a - 1).astype(np.int32)[:, None],
                      (spans.b - la - 2).astype(np.int32)[:, None]) + pos
    ids = np.where(real, tokens[np.clip(source, 0, len(tokens) - 1)], vocab.pad_id).astype(np.int32, copy=False)
    rows = np.arange(len(ids))
    ids[:, 0] = vocab.cls_id
    ids[rows, la + 1] = ids[rows, length - 1] = vocab.sep_id
    return ids, length


def features(tokens: np.ndarray, spans: Spans, cfg: DataConfig, vocab: Vocab, rng: np.random.Generator
             ) -> dict[str, np.ndarray]:
    """Masked, fixed-length columns of `spans` (Google's create_masked_lm_predictions and
    write_instance_to_example_files), one row per instance: a static corpus."""
    ids, length = assemble(tokens, spans, cfg.max_seq_length, vocab)
    chosen = choose_masked(ids, length, cfg, vocab, rng.random(ids.shape, dtype=np.float32))
    row, col = np.nonzero(chosen)  # ascending per row
    draw = rng.random(len(row))
    random_ids = rng.integers(0, vocab.size, len(row), dtype=np.int32)
    return masked_columns(ids, length, spans.a_len.astype(np.int32), spans.random_next, row, col, draw, random_ids,
                          cfg, vocab)


def unmasked(tokens: np.ndarray, spans: Spans, cfg: DataConfig, vocab: Vocab) -> dict:
    """The rows of a dynamic corpus: each instance's ids ([CLS] A [SEP] B [SEP], unpadded) as bytes
    of `id_dtype(vocab.size)`, the length of A, the NSP label — nothing the feed can derive."""
    ids, length = assemble(tokens, spans, cfg.max_seq_length, vocab)
    ids = ids.astype(id_dtype(vocab.size))
    return {"tokens": [row[:n].tobytes() for row, n in zip(ids, length)],
            "a_length": spans.a_len.astype(np.int32)[:, None],
            "next_sentence_labels": spans.random_next.astype(np.int32)[:, None]}


def id_dtype(vocab_size: int) -> np.dtype:
    """How a dynamic corpus stores token ids: uint16 while the vocab fits, else int32 (little-endian)."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<i4")


def dynamic_features(tokens: bytes, lengths: np.ndarray, a_length: np.ndarray, next_sentence: np.ndarray,
                     rows: np.ndarray, epoch: int, seed: int, cfg: DataConfig, vocab: Vocab) -> dict[str, np.ndarray]:
    """A dynamic corpus's rows (their `tokens` bytes concatenated, `lengths` in ids) → the columns of
    a static one, masked by Google's rules with draws that are a pure function of (seed, epoch, the
    corpus row, the position): the same masks for a row whichever rank, micro-batch or step holds
    it, other masks in another epoch."""
    n = cfg.max_seq_length
    length = np.asarray(lengths, np.int32)
    ids = np.full((len(length), n), vocab.pad_id, np.int32)
    ids[np.arange(n)[None, :] < length[:, None]] = np.frombuffer(tokens, id_dtype(vocab.size))
    base = [counter.key(seed, epoch, stream) for stream in range(3)]  # which, 80/10/10, random id
    chosen = choose_masked(ids, length, cfg, vocab, counter.uniforms(base[0], rows, n))
    row, col = np.nonzero(chosen)
    draw = counter.uniforms(base[1], rows, n)[row, col]
    random_ids = (counter.words(base[2], rows, n)[row, col] % np.uint32(vocab.size)).astype(np.int32)
    return masked_columns(ids, length, np.asarray(a_length, np.int32).reshape(-1),
                          np.asarray(next_sentence).reshape(-1), row, col, draw, random_ids, cfg, vocab)


def masked_columns(ids, length, a_len, random_next, row, col, draw, random_ids, cfg: DataConfig, vocab: Vocab
                   ) -> dict[str, np.ndarray]:
    """The model's columns from assembled ids and the chosen (row, col) positions: 80 % [MASK], 10 %
    the token itself, 10 % a random token (`draw` and `random_ids`, one per chosen position)."""
    n, p = ids.shape[1], cfg.max_predictions_per_seq
    pos = np.arange(n, dtype=np.int32)
    real = pos < length[:, None]
    labels = ids[row, col]
    shown = ids.copy()
    shown[row, col] = np.where(draw < 0.8, vocab.mask_id, np.where(draw < 0.9, labels, random_ids))
    slot = np.arange(len(row)) - np.searchsorted(row, row)  # k-th masked position of its row
    positions, label_ids, weights = np.zeros((len(ids), p), np.int32), np.zeros((len(ids), p), np.int32), \
        np.zeros((len(ids), p), np.float32)
    positions[row, slot], label_ids[row, slot], weights[row, slot] = col, labels, 1.0
    return {"input_ids": shown,
            "input_mask": real.astype(np.int32),
            "segment_ids": (real & (pos > a_len[:, None] + 1)).astype(np.int32),
            "masked_lm_positions": positions,
            "masked_lm_ids": label_ids,
            "masked_lm_weights": weights,
            "next_sentence_labels": np.asarray(random_next).astype(np.int32).reshape(-1, 1)}


def choose_masked(ids: np.ndarray, length: np.ndarray, cfg: DataConfig, vocab: Vocab, keys: np.ndarray) -> np.ndarray:
    """Which positions to predict: Google's greedy pass over the candidates (words, with whole-word
    masking) in random order — the order of `keys` (uniforms [rows, n]; a word's key is its first
    piece's) — taking each that still fits under num_to_predict."""
    rows, n = ids.shape
    real = np.arange(n)[None, :] < length[:, None]
    cand = real & (ids != vocab.cls_id) & (ids != vocab.sep_id)
    target = np.minimum(cfg.max_predictions_per_seq, np.maximum(1, np.rint(length * cfg.masked_lm_prob))).astype(np.int64)
    if not cfg.do_whole_word_mask:  # every candidate a word of one token: the first `target` in random order
        keys = np.where(cand, keys, 2.0)
        k = cfg.max_predictions_per_seq  # at least every row's target
        smallest = np.argpartition(keys, k - 1, axis=1)[:, :k]
        in_order = np.take_along_axis(smallest, np.argsort(np.take_along_axis(keys, smallest, 1), axis=1), 1)
        chosen = np.zeros((rows, n), bool)
        np.put_along_axis(chosen, in_order, np.arange(k) < target[:, None], 1)
        return cand & chosen
    start = cand & ~(vocab.is_subword[ids] & (np.cumsum(cand, 1) > 1))  # a "##" piece joins the word before
    word_start = np.maximum.accumulate(np.where(start, np.arange(n), 0), axis=1)  # per candidate
    flat_word = (np.arange(rows)[:, None] * n + word_start)[cand]
    size = np.bincount(flat_word, minlength=rows * n).reshape(rows, n)  # at each word's start
    order = np.argsort(np.where(start, keys, 2.0), axis=1)
    sizes = np.take_along_axis(np.where(start, size, n + 1), order, 1)  # words in random order
    total = np.zeros(rows, np.int64)
    taken = np.zeros((rows, n), bool)
    for j in range(int(start.sum(1).max(initial=0))):
        fits = total + sizes[:, j] <= target
        taken[:, j] = fits
        total += np.where(fits, sizes[:, j], 0)
        if (total == target).all():
            break
    chosen = np.zeros((rows, n), bool)
    np.put_along_axis(chosen, order, taken, 1)
    return cand & np.take_along_axis(chosen, word_start, 1)
