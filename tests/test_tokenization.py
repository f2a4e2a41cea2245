import numpy as np
import pytest

from bert import assets
from bert.tokenization import Tokenizer, VocabError, truncate_pair


def write_vocab(path, tokens):
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


def test_googles_uncased_vocab_has_googles_special_ids_and_lowercases():
    tokenizer = Tokenizer(assets.uncased_vocab())
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (
        0, 100, 101, 102, 103)
    assert tokenizer.vocab_size == 30522 and tokenizer.lowercase
    assert tokenizer.tokenize("Héllo Wörld, MindSpore!") == ["hello", "world", ",", "minds", "##pore", "!"]


def test_special_tokens_are_read_from_a_vocab_that_puts_them_elsewhere(tmp_path):
    vocab = write_vocab(tmp_path / "vocab.txt",
                        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat"])
    tokenizer = Tokenizer(vocab)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (
        0, 1, 2, 3, 4)
    assert tokenizer.encode("The cats sat", "dog", max_length=10).input_ids == [2, 5, 6, 7, 8, 3, 1, 3, 0, 0]


def test_a_cased_vocab_keeps_case_and_accents(tmp_path):
    vocab = write_vocab(tmp_path / "vocab.txt",
                        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "The", "the", "café", "caf", "##e"])
    tokenizer = Tokenizer(vocab)
    assert not tokenizer.lowercase
    assert tokenizer.tokenize("The café") == ["The", "café"]
    assert Tokenizer(vocab, lowercase=True).tokenize("The café") == ["the", "caf", "##e"]


def test_pair_encoding_truncates_the_longer_side_first_like_google():
    a, b = list(range(10)), list(range(4))
    truncate_pair(a, b, 8)
    assert (len(a), len(b)) == (4, 4)
    tokenizer = Tokenizer(assets.uncased_vocab())
    enc = tokenizer.encode("one two three four five six seven eight", "nine ten", max_length=9)
    tokens = tokenizer.convert_ids_to_tokens(enc.input_ids)
    assert tokens == ["[CLS]", "one", "two", "three", "four", "[SEP]", "nine", "ten", "[SEP]"]
    assert enc.token_type_ids == [0] * 6 + [1] * 3 and enc.attention_mask == [1] * 9


def test_single_sentence_is_cut_to_fit_and_padded():
    tokenizer = Tokenizer(assets.uncased_vocab())
    enc = tokenizer.encode("a b c d e f", max_length=5)
    assert tokenizer.convert_ids_to_tokens(enc.input_ids) == ["[CLS]", "a", "b", "c", "[SEP]"]
    enc = tokenizer.encode("a", max_length=5)
    assert enc.input_ids[3:] == [0, 0] and enc.attention_mask == [1, 1, 1, 0, 0]


def test_ids_batch_equals_one_by_one():
    tokenizer = Tokenizer(assets.uncased_vocab())
    texts = ["Anarchism is a political philosophy.", "", "Ångström units, 1.5 × 10⁻¹⁰ m."]
    assert tokenizer.ids_batch(texts) == [tokenizer.ids(t) for t in texts]


@pytest.mark.parametrize("lowercase", [True, False])
def test_ids_flat_equals_ids_batch(lowercase):
    tokenizer = Tokenizer(assets.uncased_vocab(), lowercase=lowercase)
    texts = ["Anarchism is a political philosophy.", "", "Ångström units, 1.5 × 10⁻¹⁰ m.", "a\x0bb c\x85d e\x1cf",
             "g\u2028h\u00a0i\u3000j\tk\rl", "中文字 mixed中text", "[SEP]x [CLS] y[MASK] [1]", "ΣΊΣΥΦΟΣ café naïve",
             "\u200bzero\u200bwidth", "x" * 150 + " short", "e\u0301 \u0301accent", "C++ (e.g. $5,000) don't ~x|y^z"]
    ids, counts = tokenizer.ids_flat(texts)
    expected = tokenizer.ids_batch(texts)
    assert ids.dtype == np.int32 and counts.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]


@pytest.mark.parametrize("tokens, problem", [
    (["[PAD]", "[UNK]", "[CLS]", "the"], "lacks the special tokens [SEP] [MASK]"),
    ([], "is empty"),
])
def test_bad_vocab_is_one_clear_error(tmp_path, tokens, problem):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(tokens), encoding="utf-8")
    with pytest.raises(VocabError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        Tokenizer(path)


def test_missing_vocab_file_is_named(tmp_path):
    with pytest.raises(VocabError, match="does not exist"):
        Tokenizer(tmp_path / "nope.txt")
