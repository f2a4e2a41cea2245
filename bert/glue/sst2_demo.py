"""Sizes + seed in, a generated SST-2-format folder out (train.tsv, dev.tsv, test.tsv, DEMO.txt).

This is NOT SST-2 (real SST-2 needs a download, see tools/download_sst2.py): the sentences come
from a few English templates about films, and each one's label follows from the sentiment words
in it: one or two adjectives from a positive or a negative list, never mixed, never negated.
So a model can learn it in a few steps, which makes it a stand-in for trying the finetuning chain
offline; its accuracy says nothing about SST-2. DEMO.txt marks the folder so that results
computed on it are labelled as demo. Every word is a whole word of Google's uncased vocab.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

from bert.atomic import write_text_atomic
from bert.glue.tasks import DEMO_MARKER, TASKS

POSITIVE = ("wonderful", "moving", "brilliant", "charming", "delightful", "superb", "excellent", "beautiful",
            "great", "clever", "funny", "touching", "engaging", "gripping", "stunning", "powerful", "fresh",
            "thoughtful", "inspired", "remarkable", "lovely", "enjoyable", "impressive", "witty", "fantastic")
NEGATIVE = ("boring", "dull", "awful", "terrible", "bad", "weak", "clumsy", "flat", "lifeless", "bland", "silly",
            "pointless", "messy", "poor", "dreadful", "horrible", "stupid", "annoying", "predictable", "painful",
            "ugly", "lazy", "confusing", "shallow", "sloppy")
INTENSIFIERS = ("very", "really", "truly", "quite", "rather", "simply", "utterly", "so", "pretty", "genuinely",
                "fairly", "deeply", "thoroughly", "incredibly", "completely", "absolutely")
NOUNS = ("acting", "plot", "script", "soundtrack", "direction", "cast", "story", "dialogue", "ending", "pacing",
         "cinematography", "performance", "humor", "hero", "villain", "music", "score", "writing",
         "editing", "lead", "premise", "climax", "finale", "opening", "photography", "screenplay")
GENRES = ("comedy", "drama", "thriller", "documentary", "romance", "western", "musical", "sequel", "film",
          "movie", "picture", "mystery", "adventure")
# {adj}/{adj2}: two different words of one polarity; {noun}/{noun2}: two different singular nouns.
TEMPLATES = (
    "the {noun} was {adj}",
    "the {noun} was {adv} {adj}",
    "the {noun} was {adj} and the {noun2} {adj2}",
    "a {adv} {adj} {genre}",
    "what a {adj} {genre}",
    "i found the {noun} {adv} {adj}",
    "this {genre} is {adv} {adj} from start to finish",
    "{adj} {noun} and {adj2} {noun2} throughout",
    "the {noun} feels {adj} , and the {noun2} is {adv} {adj2}",
    "a {adj} , {adj2} {genre}",
    "by the end the {noun} seemed {adv} {adj}",
    "i thought the {noun} of this {genre} was {adj}",
    "the {genre} , with its {adj} {noun} , is {adv} {adj2}",
)
A_BEFORE_VOWEL = re.compile(r"\ba (?=[aeiou])")


def sentence(rng: random.Random, words: tuple[str, ...]) -> str:
    """Random source + one polarity's word list → one lower-case template sentence."""
    noun, noun2 = rng.sample(NOUNS, 2)
    adj, adj2 = rng.sample(words, 2)
    text = rng.choice(TEMPLATES).format(noun=noun, noun2=noun2, adj=adj, adj2=adj2,
                                        adv=rng.choice(INTENSIFIERS), genre=rng.choice(GENRES))
    return A_BEFORE_VOWEL.sub("an ", text)


def _header(split: str) -> tuple[str, ...]:
    """GLUE SST-2's header of `split` (bert.glue.tasks' table)."""
    task = TASKS["SST-2"]
    return (task.test["SST-2"] if split == "test" else task.train).header


def write_demo(directory: str | os.PathLike, train: int = 800, dev: int = 200, test: int = 100,
               seed: int = 0) -> Path:
    """Folder + split sizes + seed → the folder holding train/dev/test.tsv in GLUE SST-2 layout and DEMO.txt.

    Same arguments, same bytes. Labels are balanced within each split (one more 0 when odd), and no
    sentence occurs twice anywhere. Each file is written under a temporary name, then renamed.
    """
    sizes = {"train": train, "dev": dev, "test": test}
    if any(n < 1 for n in sizes.values()):
        raise ValueError(f"split sizes must be at least 1, got {sizes}")
    rng = random.Random(seed)
    labels = {split: [i % 2 for i in range(n)] for split, n in sizes.items()}
    seen: set[str] = set()
    pools: dict[int, list[str]] = {}
    for label, words in ((1, POSITIVE), (0, NEGATIVE)):
        wanted = sum(split.count(label) for split in labels.values())
        pools[label] = []
        while len(pools[label]) < wanted:
            text = sentence(rng, words)
            if text not in seen:
                seen.add(text)
                pools[label].append(text)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # the marker goes first: a folder cut short by a crash must never pass for real SST-2
    write_text_atomic(directory / DEMO_MARKER,
                      f"generated demo set, not SST-2: {train}/{dev}/{test} train/dev/test sentences from "
                      f"templates (bert.glue.sst2_demo, seed {seed}); each label follows from its "
                      f"{len(POSITIVE)} positive / {len(NEGATIVE)} negative words, so scores on it say "
                      f"nothing about SST-2.\n")
    for split, split_labels in labels.items():
        rows = [(pools[label].pop(), label) for label in split_labels]
        rng.shuffle(rows)
        lines = [f"{i}\t{text}" for i, (text, _) in enumerate(rows)] if split == "test" else \
            [f"{text}\t{label}" for text, label in rows]
        write_text_atomic(directory / f"{split}.tsv", "\n".join(["\t".join(_header(split)), *lines, ""]))
    return directory
