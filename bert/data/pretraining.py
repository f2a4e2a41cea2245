"""Google's create_pretraining_data algorithm over token ids: documents (lists of tokenized
sentences) in, MLM+NSP training instances out, one dupe pass at a time.

Faithful to google-research/bert: segments packed up to max_seq_length - 3 (a shorter random
target with short_seq_prob), a 50 % random next segment from another document, the longer side
truncated from a random end, masked_lm_prob of the tokens masked (at most
max_predictions_per_seq) with 80 % [MASK] / 10 % random token / 10 % unchanged, optional
whole-word masking over `##` pieces. Differences: random documents come from the same shard
(memory stays one shard), and instances are shuffled within a dupe pass, not across the corpus.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Iterator

import numpy as np

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
class Instance:
    tokens: list[int]
    segment_ids: list[int]
    is_random_next: bool
    masked_positions: list[int]
    masked_labels: list[int]


def shard_seed(seed: int, shard_name: str) -> int:
    """A per-shard seed that does not depend on which worker or task runs the shard."""
    digest = hashlib.sha256(f"{seed}:{shard_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def truncate_seq_pair(a: list[int], b: list[int], max_tokens: int, rng: random.Random) -> None:
    """Google's truncate_seq_pair: trim the longer side, from the front or back at random."""
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def mask_tokens(tokens: list[int], cfg: DataConfig, vocab: Vocab, rng: random.Random
                ) -> tuple[list[int], list[int], list[int]]:
    """Google's create_masked_lm_predictions → (output tokens, positions, original ids)."""
    cand: list[list[int]] = []
    for i, tok in enumerate(tokens):
        if tok == vocab.cls_id or tok == vocab.sep_id:
            continue
        if cfg.do_whole_word_mask and cand and vocab.is_subword[tok]:
            cand[-1].append(i)
        else:
            cand.append([i])
    rng.shuffle(cand)
    output = list(tokens)
    num_to_predict = min(cfg.max_predictions_per_seq, max(1, int(round(len(tokens) * cfg.masked_lm_prob))))
    masked: list[tuple[int, int]] = []
    covered: set[int] = set()
    for index_set in cand:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(index_set) > num_to_predict or any(i in covered for i in index_set):
            continue
        for index in index_set:
            covered.add(index)
            if rng.random() < 0.8:
                replacement = vocab.mask_id
            elif rng.random() < 0.5:
                replacement = tokens[index]
            else:
                replacement = rng.randint(0, vocab.size - 1)
            output[index] = replacement
            masked.append((index, tokens[index]))
    masked.sort()
    return output, [p for p, _ in masked], [t for _, t in masked]


def instances_from_document(documents: list[list[list[int]]], doc_index: int, cfg: DataConfig,
                            vocab: Vocab, rng: random.Random) -> Iterator[Instance]:
    """Google's create_instances_from_document, over token ids."""
    document = documents[doc_index]
    max_num_tokens = cfg.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < cfg.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    chunk: list[list[int]] = []
    length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target_seq_length:
            if chunk:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                tokens_a = [t for seg in chunk[:a_end] for t in seg]
                tokens_b: list[int] = []
                is_random_next = len(chunk) == 1 or rng.random() < 0.5
                if is_random_next:
                    target_b_length = target_seq_length - len(tokens_a)
                    for _ in range(10):
                        random_index = rng.randint(0, len(documents) - 1)
                        if random_index != doc_index:
                            break
                    random_document = documents[random_index]
                    for j in range(rng.randint(0, len(random_document) - 1), len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    i -= len(chunk) - a_end  # put the unused segments back
                else:
                    tokens_b = [t for seg in chunk[a_end:] for t in seg]
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if tokens_a and tokens_b:
                    tokens = [vocab.cls_id, *tokens_a, vocab.sep_id, *tokens_b, vocab.sep_id]
                    segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                    output, positions, labels = mask_tokens(tokens, cfg, vocab, rng)
                    yield Instance(output, segments, is_random_next, positions, labels)
            chunk = []
            length = 0
        i += 1


def dupe_passes(documents: list[list[list[int]]], cfg: DataConfig, vocab: Vocab, seed: int
                ) -> Iterator[list[Instance]]:
    """Yield the shuffled instances of each of the `dupe_factor` passes (different masks each)."""
    rng = random.Random(seed)
    documents = [d for d in documents if d]
    rng.shuffle(documents)
    if not documents:
        return
    for _ in range(cfg.dupe_factor):
        instances = [inst for k in range(len(documents))
                     for inst in instances_from_document(documents, k, cfg, vocab, rng)]
        rng.shuffle(instances)
        yield instances


def to_features(inst: Instance, cfg: DataConfig, pad_id: int) -> dict[str, np.ndarray]:
    """Fixed-length columns, as Google's write_instance_to_example_files."""
    n, p = cfg.max_seq_length, cfg.max_predictions_per_seq
    input_ids = np.full(n, pad_id, np.int32)
    input_ids[: len(inst.tokens)] = inst.tokens
    input_mask = np.zeros(n, np.int32)
    input_mask[: len(inst.tokens)] = 1
    segment_ids = np.zeros(n, np.int32)
    segment_ids[: len(inst.segment_ids)] = inst.segment_ids
    positions = np.zeros(p, np.int32)
    positions[: len(inst.masked_positions)] = inst.masked_positions
    labels = np.zeros(p, np.int32)
    labels[: len(inst.masked_labels)] = inst.masked_labels
    weights = np.zeros(p, np.float32)
    weights[: len(inst.masked_labels)] = 1.0
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
            "masked_lm_positions": positions, "masked_lm_ids": labels, "masked_lm_weights": weights,
            "next_sentence_labels": np.array([int(inst.is_random_next)], np.int32)}
