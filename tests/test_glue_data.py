"""bert.glue.tasks' reader, encoder and submission writer on files in GLUE's exact layouts, and
bert.glue.metrics against scipy and the textbook formulas."""
import numpy as np
import pytest
import scipy.stats

from bert import assets
from bert.glue import metrics as glue_metrics
from bert.config import ConfigError
from bert.glue import tasks as glue
from bert.data import DataError
from bert.tokenization import Tokenizer, truncate_pair

T = "\t"
MNLI_HEAD = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
             "sentence2_parse\tsentence1\tsentence2")
MNLI_ROW = ("0\t31193\t31193n\tgovernment\t( ( Conceptually ( cream skimming ) ) ... )\t( ( ( Product and ) geography ) "
            "... )\t(ROOT (S (NP (JJ Conceptually) (NN cream) (NN skimming)) ...))\t(ROOT (S (NP (NN Product)) ...))\t"
            "Conceptually cream skimming has two basic dimensions - product and geography.\t"
            "Product and geography are what make cream skimming work. ")
MRPC_A = 'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .'
MRPC_B = 'Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting his evidence .'

# Each file as GLUE's download has it → (text_a, text_b, labels, index) read_examples must return.
FILES = {
    ("CoLA", "train"): ("gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.\n"
                        "gj04\t0\t*\tOne more pseudo generalization and I'm giving up.\n",
                        ["Our friends won't buy this analysis, let alone the next one we propose.",
                         "One more pseudo generalization and I'm giving up."], None, [1, 0], None),
    ("CoLA", "dev"): ("gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\n",
                      ["The sailors rode the breeze clear of the rocks."], None, [1], None),
    ("CoLA", "CoLA"): ("index\tsentence\n0\tBill whistled past the house.\n1\tThe car honked its way down the road.\n",
                       ["Bill whistled past the house.", "The car honked its way down the road."], None, None, [0, 1]),
    ("SST-2", "train"): ("sentence\tlabel\nhide new secretions from the parental units \t0\n"
                         "that loves its characters and communicates something rather beautiful about human nature \t1\n",
                         ["hide new secretions from the parental units ",
                          "that loves its characters and communicates something rather beautiful about human nature "],
                         None, [0, 1], None),
    ("SST-2", "dev"): ("sentence\tlabel\nit 's a charming and often affecting journey . \t1\n",
                       ["it 's a charming and often affecting journey . "], None, [1], None),
    ("SST-2", "SST-2"): ("index\tsentence\n0\tuneasy mishmash of styles and genres .\n",
                         ["uneasy mishmash of styles and genres ."], None, None, [0]),
    ("MRPC", "train"): ("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"  # the MSR file's byte-order mark
                        f"1\t702876\t702977\t{MRPC_A}\t{MRPC_B}\n"
                        "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in 1998 for "
                        "$ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for "
                        "$ 1.8 billion in 1998 .\n",
                        [MRPC_A, "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion ."],
                        [MRPC_B, "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for "
                                 "$ 1.8 billion in 1998 ."], [1, 0], None),
    ("MRPC", "dev"): (f"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\t{MRPC_B}\t{MRPC_A}\n",
                      [MRPC_B], [MRPC_A], [1], None),
    ("MRPC", "MRPC"): (f'index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\t"{MRPC_A}\t{MRPC_B}"\n',
                       [f'"{MRPC_A}'], [f'{MRPC_B}"'], None, [0]),
    ("STS-B", "train"): ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                         "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\t"
                         "An air plane is taking off.\t5.000\n"
                         "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large flute.\t"
                         "A man is playing a flute.\t3.800\n"
                         "2\tmain-news\tdeft-news\t2014\t0\tnone\tnone\tUS drone kills 'militants'\tNo link.\t0\n",
                         ["A plane is taking off.", "A man is playing a large flute.", "US drone kills 'militants'"],
                         ["An air plane is taking off.", "A man is playing a flute.", "No link."], [5.0, 3.8, 0.0], None),
    ("STS-B", "dev"): ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                       "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\t"
                       "A man wearing a hard hat is dancing.\t5.000\n",
                       ["A man with a hard hat is dancing."], ["A man wearing a hard hat is dancing."], [5.0], None),
    ("STS-B", "STS-B"): ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
                         "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\t"
                         "A girl is brushing her hair.\n",
                         ["A girl is styling her hair."], ["A girl is brushing her hair."], None, [0]),
    ("QQP", "train"): ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                       "133273\t213221\t213222\tHow is the life of a math student? Could you describe your own "
                       "experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0\n"
                       '402555\t536040\t536041\tWhat does "namaste" mean?\tWhat is the meaning of "namaste"?\t1\n',
                       ["How is the life of a math student? Could you describe your own experiences?",
                        'What does "namaste" mean?'],
                       ["Which level of prepration is enough for the exam jlpt5?", 'What is the meaning of "namaste"?'],
                       [0, 1], None),
    ("QQP", "dev"): ('id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n'
                     '201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so "beautiful"?\t0\n',
                     ["Why are African-Americans so beautiful?"], ['Why are hispanics so "beautiful"?'], [0], None),
    ("QQP", "QQP"): ("id\tquestion1\tquestion2\n0\tWhy are people so obsessed with having a girlfriend/boyfriend?\t"
                     "How can a single male have a child?\n",
                     ["Why are people so obsessed with having a girlfriend/boyfriend?"],
                     ["How can a single male have a child?"], None, [0]),
    ("MNLI", "train"): (f"{MNLI_HEAD}\tlabel1\tgold_label\n{MNLI_ROW}\tneutral\tneutral\n",
                        ["Conceptually cream skimming has two basic dimensions - product and geography."],
                        ["Product and geography are what make cream skimming work. "], [2], None),
    ("MNLI", "dev_matched"): (f"{MNLI_HEAD}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                              f"{MNLI_ROW}\tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n"
                              f"{MNLI_ROW}\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
                              "contradiction\n",
                              ["Conceptually cream skimming has two basic dimensions - product and geography."] * 2,
                              ["Product and geography are what make cream skimming work. "] * 2, [2, 0], None),
    ("MNLI", "dev_mismatched"): (f"{MNLI_HEAD}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                                 f"{MNLI_ROW}\tentailment\tentailment\tentailment\tneutral\tentailment\tentailment\n",
                                 ["Conceptually cream skimming has two basic dimensions - product and geography."],
                                 ["Product and geography are what make cream skimming work. "], [1], None),
    ("MNLI", "MNLI-m"): (f"{MNLI_HEAD}\n{MNLI_ROW}\n",
                         ["Conceptually cream skimming has two basic dimensions - product and geography."],
                         ["Product and geography are what make cream skimming work. "], None, [0]),
    ("MNLI", "MNLI-mm"): (f"{MNLI_HEAD}\n{MNLI_ROW.replace('0', '7', 1)}\n",
                          ["Conceptually cream skimming has two basic dimensions - product and geography."],
                          ["Product and geography are what make cream skimming work. "], None, [7]),
    ("QNLI", "train"): ("index\tquestion\tsentence\tlabel\n0\tWhen did the third Digimon series begin?\tUnlike the two "
                        "seasons before it, Digimon Tamers takes a darker approach.\tnot_entailment\n"
                        "1\tWhich missile batteries often have individual launchers several kilometres from one another?"
                        "\tWhen MANPADS is operated by specialists, batteries may have several dozen teams.\tentailment\n",
                        ["When did the third Digimon series begin?",
                         "Which missile batteries often have individual launchers several kilometres from one another?"],
                        ["Unlike the two seasons before it, Digimon Tamers takes a darker approach.",
                         "When MANPADS is operated by specialists, batteries may have several dozen teams."], [1, 0], None),
    ("QNLI", "dev"): ("index\tquestion\tsentence\tlabel\n0\tWhat came into force after the new constitution?\tThe "
                      "third chamber was the Grand Council.\tentailment\n",
                      ["What came into force after the new constitution?"], ["The third chamber was the Grand Council."],
                      [0], None),
    ("QNLI", "QNLI"): ("index\tquestion\tsentence\n0\tWhat organization is devoted to Jihad?\tFor some decades prior "
                       "to the First Palestine Intifada...\n",
                       ["What organization is devoted to Jihad?"], ["For some decades prior to the First Palestine "
                                                                   "Intifada..."], None, [0]),
    ("RTE", "train"): ("index\tsentence1\tsentence2\tlabel\n0\tNo Weapons of Mass Destruction Found in Iraq Yet.\t"
                       "Weapons of Mass Destruction Found in Iraq.\tnot_entailment\n",
                       ["No Weapons of Mass Destruction Found in Iraq Yet."], ["Weapons of Mass Destruction Found in Iraq."],
                       [1], None),
    ("RTE", "dev"): ("index\tsentence1\tsentence2\tlabel\n0\tDana Reeve, the widow of the actor, died at 44.\t"
                     "Christopher Reeve had an accident.\tnot_entailment\n1\tYet, we now are discovering that antibiotics "
                     "are losing their effectiveness.\tBacteria is winning the war against antibiotics.\tentailment\n",
                     ["Dana Reeve, the widow of the actor, died at 44.",
                      "Yet, we now are discovering that antibiotics are losing their effectiveness."],
                     ["Christopher Reeve had an accident.", "Bacteria is winning the war against antibiotics."],
                     [1, 0], None),
    ("RTE", "RTE"): ("index\tsentence1\tsentence2\n0\tMangla was summoned after Madhumita's sister called police.\t"
                     "Shukla is subjected to torture.\n",
                     ["Mangla was summoned after Madhumita's sister called police."], ["Shukla is subjected to torture."],
                     None, [0]),
    ("WNLI", "train"): ("index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin through a carrot. When I pulled the pin out, "
                        "it had a hole.\tThe carrot had a hole.\t1\n",
                        ["I stuck a pin through a carrot. When I pulled the pin out, it had a hole."],
                        ["The carrot had a hole."], [1], None),
    ("WNLI", "dev"): ("index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair. It has to be cleaned.\t"
                      "The hair has to be cleaned.\t0\n",
                      ["The drain is clogged with hair. It has to be cleaned."], ["The hair has to be cleaned."], [0], None),
    ("WNLI", "WNLI"): ("index\tsentence1\tsentence2\n0\tMaude and Dora had seen the trains rushing across the prairie.\t"
                       "Maude and Dora had seen the trains.\n",
                       ["Maude and Dora had seen the trains rushing across the prairie."],
                       ["Maude and Dora had seen the trains."], None, [0]),
}
AX = ("index\tsentence1\tsentence2\n0\tThe cat sat on the mat.\tThe cat did not sit on the mat.\n"
      "1\tWhen you've got no snow, it's really hard to learn a snow sport.\tWhen you've got snow, it's hard to learn.\n")


def layouts():
    for name, task in glue.TASKS.items():
        yield from (((name, "train"), task.train), *(((name, k), v) for k, v in task.dev.items()),
                    *(((name, k), v) for k, v in task.test.items()))


def test_every_layout_has_a_file():
    assert sorted(key for key, _ in layouts()) == sorted(FILES)


@pytest.mark.parametrize("key", sorted(FILES), ids="/".join)
def test_read_examples_real_layouts(tmp_path, key):
    task = glue.TASKS[key[0]]
    layout = dict(layouts())[key]
    text, text_a, text_b, labels, index = FILES[key]
    path = tmp_path / layout.file
    path.write_text(text, encoding="utf-8")
    ex = glue.read_examples(task, layout, path)
    assert (ex.text_a, ex.text_b, ex.skipped, len(ex)) == (text_a, text_b, 0, len(text_a))
    if labels is None:
        assert ex.labels is None
    else:
        assert ex.labels.dtype == (np.float32 if task.labels is None else np.int32)
        np.testing.assert_allclose(ex.labels, labels)
    if index is None:
        assert ex.index is None
    else:
        assert ex.index.dtype == np.int64 and ex.index.tolist() == index
    # Windows line ends, and no final newline, read the same
    path.write_bytes(text.replace("\n", "\r\n").rstrip("\r\n").encode())
    again = glue.read_examples(task, layout, path)
    assert (again.text_a, again.text_b) == (ex.text_a, ex.text_b)


def test_diagnostic(tmp_path):
    path = tmp_path / glue.DIAGNOSTIC_DIR / glue.DIAGNOSTIC.file
    path.parent.mkdir()
    path.write_text(AX, encoding="utf-8")
    ex = glue.read_examples(glue.TASKS["MNLI"], glue.DIAGNOSTIC, path)
    assert ex.text_a[1] == "When you've got no snow, it's really hard to learn a snow sport."
    assert ex.text_b == ["The cat did not sit on the mat.", "When you've got snow, it's hard to learn."]
    assert ex.labels is None and ex.index.tolist() == [0, 1]


SST2_HEAD = "sentence\tlabel\n"
STSB_HEAD = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
STSB_ROW = "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tA plane takes off.\t"


@pytest.mark.parametrize("task, split, text, line, words", [
    ("SST-2", "train", SST2_HEAD + "good\t1\nbad\t0\textra\n", 3, "expected 2 tab-separated fields, got 3"),
    ("SST-2", "train", SST2_HEAD + "good\t1\n\nbad\t0\n", 3, "expected 2 tab-separated fields, got 1"),
    ("SST-2", "train", SST2_HEAD + "good\tpositive\n", 2, "label 'positive' is not one of 0, 1"),
    ("SST-2", "train", SST2_HEAD + " \t1\n", 2, "empty sentence"),
    ("SST-2", "train", "sentence\tlabels\ngood\t1\n", 1, "expected the header 'sentence\\tlabel', got 'sentence\\tlabels'"),
    ("SST-2", "train", "good\t1\n", 1, "expected the header"),
    ("CoLA", "train", "gj04\t1\t\tFine.\ngj04\t1\t\t\n", 2, "empty sentence"),
    ("CoLA", "train", "gj04\t1\tFine.\n", 1, "expected 4 tab-separated fields, got 3"),
    ("MNLI", "dev_matched", f"{MNLI_HEAD}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                            f"{MNLI_ROW}\tneutral\tneutral\tneutral\tneutral\tneutral\t-\n", 2,
     "label '-' is not one of contradiction, entailment, neutral"),
    ("MNLI", "train", f"{MNLI_HEAD}\tlabel1\tgold_label\n{MNLI_ROW}\tneutral\tneutral\textra\n", 2,
     "expected 12 tab-separated fields, got 13"),
    ("RTE", "train", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot entailment\n", 2,
     "label 'not entailment' is not one of entailment, not_entailment"),
    ("RTE", "train", "index\tsentence1\tsentence2\tlabel\n0\tA.\t\tentailment\n", 2, "empty sentence"),
    ("STS-B", "train", STSB_HEAD + STSB_ROW + "5.5\n", 2, "score '5.5' is not a number in [0, 5]"),
    ("STS-B", "train", STSB_HEAD + STSB_ROW + "4\n" + STSB_ROW + "-0.1\n", 3, "score '-0.1' is not a number in [0, 5]"),
    ("STS-B", "train", STSB_HEAD + STSB_ROW + "nan\n", 2, "score 'nan' is not a number in [0, 5]"),
    ("STS-B", "train", STSB_HEAD + STSB_ROW + "high\n", 2, "score 'high' is not a number in [0, 5]"),
    ("SST-2", "SST-2", "index\tsentence\n0\tok\nx1\tfine\n", 3, "index 'x1' is not a non-negative integer"),
    ("QNLI", "QNLI", "index\tquestion\tsentence\n-1\tWhy?\tBecause.\n", 2, "index '-1' is not a non-negative integer"),
    ("QQP", "train", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tA?\tB?\tyes\n", 2,
     "label 'yes' is not one of 0, 1"),
    ("QQP", "QQP", "id\tquestion1\tquestion2\n1.5\tA?\tB?\n", 2, "index '1.5' is not a non-negative integer"),
])
def test_malformed_line_is_one_error_line(tmp_path, task, split, text, line, words):
    task = glue.TASKS[task]
    layout = task.train if split == "train" else {**task.dev, **task.test}[split]
    path = tmp_path / layout.file
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        glue.read_examples(task, layout, path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}:{line}: ") and words in message, message


def test_missing_and_empty_files(tmp_path):
    task = glue.TASKS["SST-2"]
    with pytest.raises(DataError, match=f"^{tmp_path / 'train.tsv'} does not exist$"):
        glue.read_examples(task, task.train, tmp_path / "train.tsv")
    (tmp_path / "train.tsv").write_text(SST2_HEAD)
    with pytest.raises(DataError, match="train.tsv has no examples$"):
        glue.read_examples(task, task.train, tmp_path / "train.tsv")
    (tmp_path / "train.tsv").write_text("")
    with pytest.raises(DataError, match="train.tsv:1: expected the header 'sentence\\\\tlabel', got ''$"):
        glue.read_examples(task, task.train, tmp_path / "train.tsv")
    cola = glue.TASKS["CoLA"]
    with pytest.raises(DataError, match="train.tsv has no examples$"):
        glue.read_examples(cola, cola.train, tmp_path / "train.tsv")
    (tmp_path / "train.tsv").write_bytes(b"gj04\t1\t\tFine.\ngj04\t1\t\tCaf\xe9.\n")  # Latin-1
    with pytest.raises(DataError, match="train.tsv:2: not UTF-8 text"):
        glue.read_examples(cola, cola.train, tmp_path / "train.tsv")


def test_qqp_skips_and_counts_malformed_lines(tmp_path):
    qqp = glue.TASKS["QQP"]
    path = tmp_path / "train.tsv"
    path.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                    "1\t1\t2\tWhat is it?\tWhat's that?\t1\n"
                    '97931\t189283\t189284\t"\n'  # a question broken by a newline: two short lines
                    "\tWas Muhammad a real historical figure? What is the evidence?\t0\n"
                    "310137\t103\t104\tHow can I create an Android app?\t\t0\n"  # GLUE's empty question2
                    '2\t3\t4\tIs "this" it?\tIs it "this"?\t0\n', encoding="utf-8")
    ex = glue.read_examples(qqp, qqp.train, path)
    assert ex.skipped == 3 and len(ex) == 2
    assert ex.text_b == ["What's that?", 'Is it "this"?'] and ex.labels.tolist() == [1, 0]
    path.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.tsv has no examples \(1 malformed lines skipped\)$"):
        glue.read_examples(qqp, qqp.train, path)


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer(assets.uncased_vocab())


LONG = ("The quick brown fox's jump over the lazy dog, in São Paulo — unbelievably untranslatable "
        "antidisestablishmentarianism!")


@pytest.mark.parametrize("max_length", [3, 4, 8, 9, 16, 64])
def test_encode_pairs_equal_tokenizer_encode(tokenizer, max_length):
    a = [LONG, "Short one.", "", LONG[:40], "Équipe naïve café", "a b c d e f", "x", 'He said "no" .']
    b = ["b", LONG, LONG, LONG[:41], "résumé", "g h i j k l", "", "\"quoted\" text ."]
    ex = glue.Examples(a, b, np.arange(len(a), dtype=np.int32) % 3, None)
    columns = glue.encode(tokenizer, ex, max_length)
    assert set(columns) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    for k in ("input_ids", "token_type_ids", "attention_mask"):
        assert columns[k].dtype == np.int32 and columns[k].shape == (len(a), max_length)
    for r, (x, y) in enumerate(zip(a, b)):
        want = tokenizer.encode(x, y, max_length)
        assert columns["input_ids"][r].tolist() == want.input_ids, (x, y)
        assert columns["token_type_ids"][r].tolist() == want.token_type_ids, (x, y)
        assert columns["attention_mask"][r].tolist() == want.attention_mask, (x, y)
    assert columns["labels"].tolist() == ex.labels.tolist()


@pytest.mark.parametrize("max_length", [2, 3, 8, 64])
def test_encode_singles_equal_tokenizer_encode(tokenizer, max_length):
    a = [LONG, "Short one.", "", "Équipe naïve café", "x"]
    ex = glue.Examples(a, None, None, np.array([5, 6, 7, 8, 9], np.int64))
    columns = glue.encode(tokenizer, ex, max_length)
    assert set(columns) == {"input_ids", "token_type_ids", "attention_mask", "index"}
    assert columns["index"].dtype == np.int64 and columns["index"].tolist() == [5, 6, 7, 8, 9]
    for r, x in enumerate(a):
        want = tokenizer.encode(x, None, max_length)
        assert [columns[k][r].tolist() for k in ("input_ids", "token_type_ids", "attention_mask")] == \
            [want.input_ids, want.token_type_ids, want.attention_mask], x


def test_kept_lengths_equal_truncate_pair():
    sizes = np.array([(a, b, m) for a in range(14) for b in range(14) for m in range(20)])
    kept_a, kept_b = glue._kept_lengths(sizes[:, 0], sizes[:, 1], sizes[:, 2])
    for (a, b, m), ka, kb in zip(sizes.tolist(), kept_a.tolist(), kept_b.tolist()):
        x, y = list(range(a)), list(range(b))
        truncate_pair(x, y, m)
        assert (len(x), len(y)) == (ka, kb), (a, b, m)


def test_encode_read_file(tokenizer, tmp_path):
    task = glue.TASKS["STS-B"]
    text, *_ = FILES[("STS-B", "train")]
    (tmp_path / "train.tsv").write_text(text)
    columns = glue.encode(tokenizer, glue.read_examples(task, task.train, tmp_path / "train.tsv"), 16)
    assert columns["labels"].dtype == np.float32 and columns["labels"].tolist() == pytest.approx([5.0, 3.8, 0.0])
    assert columns["input_ids"][0].tolist() == tokenizer.encode("A plane is taking off.",
                                                                "An air plane is taking off.", 16).input_ids


def test_submission():
    mnli = glue.TASKS["MNLI"]
    text = glue.submission(mnli, np.array([0, 1, 2, 3]), np.array([2, 0, 1, 1]))
    lines = text.split("\n")
    assert text.endswith("\n") and lines[0] == "index\tprediction" and len(lines) == 1 + 4 + 1
    assert lines[1:5] == ["0\tneutral", "1\tcontradiction", "2\tentailment", "3\tentailment"]
    assert glue.submission(glue.TASKS["CoLA"], np.array([7]), np.array([1])) == "index\tprediction\n7\t1\n"
    rte = glue.submission(glue.TASKS["RTE"], np.arange(3), np.array([1, 0, 1]))
    assert {line.split("\t")[1] for line in rte.splitlines()[1:]} <= set(glue.NLI2)
    assert glue.submission(glue.TASKS["STS-B"], np.array([0, 1, 2]), np.array([-0.3, 2.34567, 5.2], np.float32)) \
        == "index\tprediction\n0\t0.000\n1\t2.346\n2\t5.000\n"
    with pytest.raises(ValueError, match="class ids"):
        glue.submission(mnli, np.array([0]), np.array([3]))
    with pytest.raises(ValueError, match="class ids"):
        glue.submission(mnli, np.array([0]), np.array([0.7]))
    with pytest.raises(ValueError, match="equal-length"):
        glue.submission(mnli, np.array([0, 1]), np.array([0]))


def test_load_task():
    assert glue.load_task("MNLI") is glue.TASKS["MNLI"] and glue.load_task("sts-b") is glue.TASKS["STS-B"]
    with pytest.raises(ConfigError, match="unknown GLUE task 'SST2'; known: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, "
                                          "QNLI, RTE, WNLI"):
        glue.load_task("SST2")


# ------------------------------------------------------------------------------------------- metrics

def reference_binary(pred, gold):
    """(MCC, F1 of class 1) from the 2x2 confusion matrix by the textbook formulas."""
    tp = float(np.sum((pred == 1) & (gold == 1)))
    tn = float(np.sum((pred == 0) & (gold == 0)))
    fp = float(np.sum((pred == 1) & (gold == 0)))
    fn = float(np.sum((pred == 0) & (gold == 1)))
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    mcc = (tp * tn - fp * fn) / np.sqrt(denominator) if denominator else 0.0
    precision, recall = tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0
    return mcc, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_match_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    gold = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.7, gold, 1 - gold)
    mcc, f1 = reference_binary(pred, gold)
    assert glue_metrics.matthews(pred, gold) == pytest.approx(mcc, abs=1e-12)
    assert glue_metrics.f1(pred, gold) == pytest.approx(f1, abs=1e-12)
    assert glue_metrics.accuracy(pred, gold) == pytest.approx(np.mean(pred == gold))


def test_binary_metrics_degenerate():
    ones, zeros, mixed = np.ones(6, int), np.zeros(6, int), np.array([0, 1, 0, 1, 1, 0])
    assert glue_metrics.matthews(mixed, ones) == 0.0 and glue_metrics.matthews(ones, mixed) == 0.0
    assert glue_metrics.matthews(mixed, mixed) == 1.0 and glue_metrics.matthews(1 - mixed, mixed) == -1.0
    assert glue_metrics.f1(zeros, zeros) == 0.0 and glue_metrics.f1(zeros, mixed) == 0.0
    assert glue_metrics.f1(ones, ones) == 1.0
    with pytest.raises(ValueError):
        glue_metrics.accuracy([1, 0], [1])


@pytest.mark.parametrize("seed", range(5))
def test_correlations_match_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    gold = rng.integers(0, 26, n) / 5  # STS-B style scores: many ties
    pred = np.round(gold + rng.normal(0, 1.5, n), 1).astype(np.float32)  # ties on this side too
    assert glue_metrics.pearson(pred, gold) == pytest.approx(scipy.stats.pearsonr(pred, gold)[0], abs=1e-6)
    assert glue_metrics.spearman(pred, gold) == pytest.approx(scipy.stats.spearmanr(pred, gold)[0], abs=1e-9)
    np.testing.assert_allclose(glue_metrics._ranks(pred), scipy.stats.rankdata(pred))


def test_correlations_of_a_constant_are_zero():
    assert glue_metrics.pearson(np.full(5, 2.5), np.arange(5.0)) == 0.0
    assert glue_metrics.spearman(np.arange(5.0), np.ones(5)) == 0.0
    assert glue_metrics.pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)


def test_task_metrics_score_and_format():
    gold, pred = np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1])
    mrpc = glue_metrics.task_metrics(glue.TASKS["MRPC"], pred, gold)
    assert list(mrpc) == ["f1", "accuracy"] and mrpc["accuracy"] == pytest.approx(0.6)
    assert mrpc["f1"] == pytest.approx(2 / 3)
    assert glue_metrics.task_score(glue.TASKS["MRPC"], mrpc) == pytest.approx((2 / 3 + 0.6) / 2)
    assert glue_metrics.format_metrics(mrpc) == "F1: 66.7%, Accuracy: 60.0%"
    cola = glue_metrics.task_metrics(glue.TASKS["CoLA"], pred, gold)
    assert list(cola) == ["mcc"] and glue_metrics.task_score(glue.TASKS["CoLA"], cola) == cola["mcc"]
    assert glue_metrics.format_metrics(cola) == f"Matthews corr: {reference_binary(pred, gold)[0]:.3f}"
    stsb = glue_metrics.task_metrics(glue.TASKS["STS-B"], np.array([0.5, 2.0, 4.1, 3.0]), np.array([1.0, 2.2, 5.0, 2.4]))
    assert list(stsb) == ["pearson", "spearman"] and stsb["spearman"] == pytest.approx(1.0)
    assert glue_metrics.task_score(glue.TASKS["STS-B"], stsb) == pytest.approx((stsb["pearson"] + 1.0) / 2)
    assert glue_metrics.format_metrics(stsb) == f"Pearson: {stsb['pearson']:.3f}, Spearman: 1.000"
    mnli = glue_metrics.task_metrics(glue.TASKS["MNLI"], np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]))
    assert mnli == {"accuracy": 0.75} and glue_metrics.format_metrics(mnli) == "Accuracy: 75.0%"
    for task in glue.TASKS.values():
        gold = np.random.default_rng(0).integers(0, task.num_labels, 20) if task.labels else np.linspace(0, 5, 20)
        assert tuple(glue_metrics.task_metrics(task, gold, gold)) == task.metrics
