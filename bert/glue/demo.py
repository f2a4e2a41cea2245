"""Sizes + seed in, generated stand-ins for every GLUE task out: root/<TASK>/ in that task's exact
file layout (bert.glue.tasks' table: every file, header, column) and root/diagnostic/diagnostic.tsv.

These are NOT the GLUE tasks (those need a download, see tools/download_glue.py): the sentences
come from a few English templates per task, worded like the task (questions for QNLI and QQP,
premise and hypothesis for the NLI tasks, news for MRPC and RTE, captions for STS-B), and each
label follows from cue words a small model finds quickly:

  CoLA   1: a past-tense sentence (active, passive, or reported: "Sue said that Mary liked the
         cake."); 0: the same kind of sentence with an untensed verb ("Mary like the cake.",
         "Mary liking the cake.", "The cake was eat by Mary.") or with its words scrambled.
  SST-2  bert.glue.sst2_demo's set: the polarity of its adjectives.
  MRPC   sentence 1 reports a rise ("rose 9 percent"); 1: sentence 2 reports the same rise in other
         words ("increased", "grew", "up"); 0: it reports a fall ("fell", "down").
  STS-B  the score is how many of sentence 1's five key words (adjective, subject, verb, object,
         place) sentence 2 keeps, 0–5; each one it drops is replaced by a word of that slot's
         second list, which sentence 1 never uses.
  QQP    1: question 2 asks question 1's question in other words, worded as only duplicates are
         ("what is the best way to …?"); 0: it asks something else about the topic ("why …?",
         "who …?").
  MNLI   entailment: the hypothesis says less than the premise ("someone", "something");
  (AX)   contradiction: it denies it ("not", "never"); neutral: it adds a reason or a
         guess the premise does not support ("because", "probably").
  QNLI   entailment: the sentence holds the kind of answer the question asks for (a year, a
         name, a place, a number); not_entailment: it only describes the subject.
  RTE    entailment: the hypothesis restates a fact of the text; not_entailment: it denies it
         ("not", "never", "no", "denied").
  WNLI   1 when sentence 2 resolves the pronoun of sentence 1 correctly: sentence 2 always names
         the first-mentioned person or thing, and the adjective decides whether "it"/"he" meant it.

Accuracy on them says nothing about GLUE; they exist to try the GLUE chain offline. Every folder
gets a DEMO.txt (bert.glue.tasks.DEMO_MARKER) written before its data files, saying so. Every word
is a whole word of Google's uncased vocab. Same arguments, same bytes; each file is written under
a temporary name, then renamed (bert.atomic.write_text_atomic).
"""
from __future__ import annotations

import dataclasses
import os
import random
import re
from pathlib import Path
from typing import Callable

from bert.atomic import write_text_atomic
from bert.glue import sst2_demo, tasks as glue

AX = glue.DIAGNOSTIC_STEM  # the diagnostic's name in `tasks`; its folder is glue.DIAGNOSTIC_DIR
ALL = (*glue.TASKS, AX)
SIZES = (400, 100, 40)  # train, each dev set, each test set (and AX)
COLA_COLUMNS = ("source", "label", "original_label", "sentence")  # CoLA's train/dev have no header line


@dataclasses.dataclass
class Example:
    a: str
    b: str | None
    label: str  # class label string, or the STS-B score; "" where the file has none
    extra: dict[str, str] = dataclasses.field(default_factory=dict)  # other columns by header name


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


_A_AN = re.compile(r"\b([aA]) (?=[aeiou])")


def _an(text: str) -> str:
    return _A_AN.sub(r"\1n ", text)


def _pick(rng: random.Random, *pools):
    return tuple(rng.choice(p) for p in pools)


# ---------------------------------------------------------------- CoLA: acceptable vs not
COLA_SUBJECTS = ("John", "Mary", "Bill", "Sue", "the dog", "the boy", "the girl", "the teacher", "my sister",
                 "the old man", "the child", "the farmer", "the student", "Sarah", "the doctor", "the cat")
COLA_PEOPLE = tuple(s for s in COLA_SUBJECTS if s not in ("the dog", "the cat"))
# past, bare form, -ing form, participle: acceptable sentences use only the past and the participle
COLA_VERBS = (("liked", "like", "liking", "liked"), ("found", "find", "finding", "found"),
              ("ate", "eat", "eating", "eaten"), ("wanted", "want", "wanting", "wanted"),
              ("took", "take", "taking", "taken"), ("saw", "see", "seeing", "seen"),
              ("bought", "buy", "buying", "bought"), ("broke", "break", "breaking", "broken"),
              ("opened", "open", "opening", "opened"), ("washed", "wash", "washing", "washed"))
COLA_OBJECTS = ("the ball", "a book", "the cake", "the letter", "an apple", "the box", "the car", "a hat",
                "the window", "the bread", "a chair", "the bottle", "the bag", "a present", "the door", "the map")
COLA_PLACES = ("in the garden", "at school", "in the kitchen", "on the table", "after dinner", "yesterday",
               "last week", "in the morning")
COLA_SOURCES = ("gj04", "bc01", "ad03", "c-05", "cj99", "w_80", "r-67", "l-93", "m_02", "sks13", "swb04", "b_82",
                "g_81", "d_98", "rhl07", "sgww85", "ks08", "clc95", "k_95")


def _cola(rng: random.Random, label: str, stem: str) -> Example:
    subject, (past, base, ing, participle), obj, place = _pick(rng, COLA_SUBJECTS, COLA_VERBS, COLA_OBJECTS,
                                                               COLA_PLACES)
    other = rng.choice([s for s in COLA_PEOPLE if s != subject])
    error = rng.random()
    if label == "1":
        verb, passive = past, participle
    elif error < 0.7:  # no tense: the bare form ("Mary like the cake.") or the -ing form ("Mary liking the cake.")
        verb = passive = base if error < 0.4 else ing
    else:  # scrambled word order: "Like Mary the cake."
        tokens = f"{subject} {rng.choice((base, ing))} {obj}".split()
        ordered = list(tokens)
        while tokens == ordered or tokens[0] in ("the", "a", "an", "my"):
            rng.shuffle(tokens)
        return _cola_example(rng, " ".join(tokens), label)
    return _cola_example(rng, rng.choice((f"{subject} {verb} {obj}", f"{subject} {verb} {obj} {place}",
                                          f"{other} said that {subject} {verb} {obj}",
                                          f"{obj} was {passive} by {subject}")), label)


def _cola_example(rng: random.Random, words: str, label: str) -> Example:
    return Example(_cap(words) + ".", None, label,
                   {"source": rng.choice(COLA_SOURCES), "original_label": "" if label == "1" else "*"})


# ---------------------------------------------------------------- MRPC: paraphrase or not
MRPC_COMPANIES = ("Microsoft", "Intel", "Oracle", "Boeing", "Sony", "Toyota", "Nike", "Disney", "IBM", "Siemens",
                  "Nokia", "Honda")
MRPC_OTHER_COMPANIES = ("Ford", "Motorola", "Samsung", "Chrysler", "Amazon", "Nintendo")
MRPC_METRICS = ("profit", "revenue", "sales", "income", "earnings")
MRPC_QUARTERS = ("first", "second", "third", "fourth")
MRPC_FIRST = ("john", "david", "michael", "robert", "peter", "james", "richard", "thomas", "mark", "paul")
MRPC_LAST = ("smith", "johnson", "brown", "miller", "davis", "wilson", "taylor", "clark", "lewis", "walker")


def _mrpc(rng: random.Random, label: str, stem: str) -> Example:
    c, m, q, first, last, other = _pick(rng, MRPC_COMPANIES, MRPC_METRICS, MRPC_QUARTERS, MRPC_FIRST, MRPC_LAST,
                                        MRPC_OTHER_COMPANIES)
    n, name = rng.randrange(2, 40), f"{_cap(first)} {_cap(last)}"
    a = rng.choice((f"{c} 's {q} quarter {m} rose {n} percent .", f"{_cap(m)} at {c} rose {n} percent .",
                    f"{c} said its {m} rose {n} percent .",
                    f'" Our {m} rose {n} percent , " said {name} of {c} .'))  # literal quotes, as in the real files
    if label == "1":  # the same figure in other words
        b = rng.choice((f"{c} 's {m} increased {n} percent .", f"{c} reported {m} up {n} percent .",
                        f"{_cap(m)} at {c} grew {n} percent in the {q} quarter .",
                        f'{name} said {m} at {c} went " up {n} percent . "'))
    else:  # the figure going the other way
        b = rng.choice((f"{c} 's {m} fell {n} percent .", f"{c} reported {m} down {n} percent .",
                        f"{_cap(m)} at {c} fell {n} percent in the {q} quarter .",
                        f"{c} said its {m} fell , while {other} 's {m} rose ."))
    return Example(_an(a), _an(b), label)


# ---------------------------------------------------------------- STS-B: a 0–5 score
# per key-word slot: the words sentence 1 uses, and the ones sentence 2 puts in instead
STSB_SLOTS = {
    "adj": (("young", "old", "tall", "small", "happy", "little"), ("angry", "tired", "quiet", "busy", "strong", "sad")),
    "noun": (("man", "woman", "boy", "girl", "child", "lady"), ("dog", "cat", "player", "worker", "dancer", "soldier")),
    "verb": (("holding", "carrying", "watching", "pushing", "pulling", "cleaning"),
             ("throwing", "painting", "dropping", "kicking", "selling", "washing")),
    "obj": (("box", "ball", "bag", "chair", "bottle", "book"), ("bike", "basket", "lamp", "drum", "kite", "boat")),
    "place": (("park", "street", "kitchen", "garden", "yard", "hall"),
              ("field", "room", "beach", "forest", "market", "river")),
}
STSB_TEMPLATES = ("a {adj} {noun} is {verb} a {obj} in the {place}.",
                  "in the {place}, a {adj} {noun} is {verb} a {obj}.",
                  "the {adj} {noun} is {verb} a {obj} in the {place}.",
                  "a {adj} {noun} in the {place} is {verb} a {obj}.")
STSB_SOURCES = (("main-captions", "MSRvid", "2012test"), ("main-captions", "MSRvid", "2012train"),
                ("main-captions", "images", "2014"), ("main-captions", "images", "2015"))


def _stsb(rng: random.Random, label: str, stem: str) -> Example:
    keep = int(label)  # 0..5 key words of sentence 1 that sentence 2 keeps
    first = {slot: rng.choice(words) for slot, (words, _) in STSB_SLOTS.items()}
    kept = set(rng.sample(sorted(STSB_SLOTS), keep))
    second = {slot: first[slot] if slot in kept else rng.choice(STSB_SLOTS[slot][1]) for slot in STSB_SLOTS}
    a_template, b_template = rng.sample(STSB_TEMPLATES, 2)
    genre, filename, year = rng.choice(STSB_SOURCES)
    return Example(_an(_cap(a_template.format(**first))), _an(_cap(b_template.format(**second))),
                   f"{keep:.3f}",
                   {"genre": genre, "filename": filename, "year": year, "old_index": f"{rng.randrange(1, 1500):04d}",
                    "source1": "none", "source2": "none"})


# ---------------------------------------------------------------- QQP: duplicate question or not
QQP_TOPICS = ("python", "guitar", "chess", "french", "spanish", "piano", "photography", "cooking", "swimming",
              "programming", "drawing", "yoga", "math", "physics", "economics", "marketing", "java", "painting",
              "singing", "german", "statistics", "chemistry", "tennis", "dancing")
QQP_WORDS = ("karma", "irony", "paradox", "nostalgia", "empathy", "entropy", "metaphor", "democracy", "sarcasm",
             "genre", "slang", "satire")
# each intent: (wordings question 1 uses, wordings of the same question only duplicates use)
QQP_INTENTS = (
    (("how do I learn {t}?", "how can I learn {t} quickly?", "how should I start learning {t}?"),
     ("what is the best way to learn {t}?", "what is the easiest way to learn {t}?",
      "what is a good way to start learning {t}?")),
    (("how can I get better at {t}?", "how do I improve my {t} skills?", "how do I become good at {t}?"),
     ("what is the best way to improve at {t}?", "what are some good tips to get better at {t}?",
      "what is the easiest way to get good at {t}?")),
    (("which books should I read to learn {t}?", "can you recommend some books about {t}?"),
     ("what are the best books on {t}?", "what is a good book for learning {t}?",
      "what are some good books about {t}?")),
    (('what does "{w}" mean?', 'can someone explain the word "{w}" to me?', 'what is meant by "{w}"?'),
     ('what is the best definition of "{w}"?', 'what is a good explanation of the word "{w}"?',
      'what is the easiest way to explain "{w}"?')),
)
# other questions about the same topic or word (why …? who …?): only non-duplicates use these
QQP_OTHER = (
    ("why is {t} so popular?", "why do so many people hate {t}?", "why is {t} so hard?", "who invented {t}?",
     "why do people still learn {t}?", "who is the most famous {t} teacher?", "why is {t} taught in schools?"),
    ('why do people say "{w}" so often?', 'who first used the word "{w}"?', 'why is "{w}" so hard to translate?',
     'who made the word "{w}" popular?'),
)


def _qqp(rng: random.Random, label: str, stem: str) -> Example:
    intent = rng.randrange(len(QQP_INTENTS))
    t, w = rng.choice(QQP_TOPICS), rng.choice(QQP_WORDS)
    a = rng.choice(QQP_INTENTS[intent][0])
    b = rng.choice(QQP_INTENTS[intent][1] if label == "1" else QQP_OTHER[intent == len(QQP_INTENTS) - 1])
    return Example(_cap(a.format(t=t, w=w)), _cap(b.format(t=t, w=w)), label)


# ---------------------------------------------------------------- MNLI (and AX): 3-way NLI
NLI_PEOPLE = ("the farmer", "the old man", "the young woman", "the teacher", "the doctor", "my neighbor",
              "the driver", "the nurse", "the student", "the officer", "the writer", "the manager", "the pilot",
              "the cook", "the boy", "the girl")
# past, bare form, participle, object
NLI_ACTIONS = (("repaired", "repair", "repaired", "the fence"), ("painted", "paint", "painted", "the kitchen"),
               ("cleaned", "clean", "cleaned", "the car"), ("sold", "sell", "sold", "the house"),
               ("visited", "visit", "visited", "the museum"), ("read", "read", "read", "the letter"),
               ("wrote", "write", "written", "a report"), ("opened", "open", "opened", "the door"),
               ("cooked", "cook", "cooked", "dinner"), ("bought", "buy", "bought", "a ticket"),
               ("washed", "wash", "washed", "the dishes"), ("fixed", "fix", "fixed", "the roof"),
               ("moved", "move", "moved", "the table"), ("found", "find", "found", "the keys"),
               ("closed", "close", "closed", "the shop"), ("signed", "sign", "signed", "the contract"))
NLI_PLACES = ("in the city", "near the river", "at the station", "in the village", "at the office",
              "behind the school", "in the garden", "by the lake")
NLI_TIMES = ("on Monday", "last week", "yesterday", "this morning", "in the evening", "after lunch",
             "on Friday", "last summer")
NLI_REASONS = ("it was cheap", "the boss asked", "it was his job", "it was raining", "there was time", "it was late")
MNLI_GENRES = {"matched": ("fiction", "government", "slate", "telephone", "travel"),
               "mismatched": ("facetoface", "letters", "nineeleven", "oup", "verbatim")}
NLI_LETTER = {"entailment": "e", "neutral": "n", "contradiction": "c"}


def _nli_pair(rng: random.Random, label: str) -> tuple[str, str]:
    person, (past, base, part, obj) = _pick(rng, NLI_PEOPLE, NLI_ACTIONS)
    where = rng.choice(NLI_PLACES + NLI_TIMES)  # the premise's one circumstance
    premise = rng.choice((f"{person} {past} {obj} {where}", f"{where}, {person} {past} {obj}"))
    if label == "entailment":  # says less: someone, something
        hypothesis = rng.choice((f"someone {past} {obj}", f"{person} {past} something", f"someone {past} {obj} {where}",
                                 f"{person} {past} something {where}", f"someone {past} something"))
    elif label == "contradiction":  # denies it: not, never
        hypothesis = rng.choice((f"{person} did not {base} {obj}", f"{person} never {past} {obj}",
                                 f"{obj} was not {part} {where}", f"it was not {person} who {past} {obj}",
                                 f"{person} did not {base} {obj} {where}"))
    else:  # adds what the premise does not say: because, probably
        hypothesis = rng.choice((f"{person} {past} {obj} because {rng.choice(NLI_REASONS)}",
                                 f"{person} was probably paid to {base} {obj}", f"{person} probably enjoyed it",
                                 f"{person} probably wanted to {base} {obj} again",
                                 f"{person} {past} {obj} because a friend asked"))
    return _cap(premise) + ".", _cap(hypothesis) + "."


def _parses(text: str) -> tuple[str, str]:
    """Sentence → (binary parse, parse) in the columns' bracket format: a right-branching tree and a
    flat one; the demo's readers only use the sentences."""
    words = re.findall(r"[\w']+|[^\w\s]", text)
    binary = words[-2]
    for word in reversed(words[:-2]):
        binary = f"( {word} {binary} )"
    return f"( {binary} . )", "(ROOT (S " + " ".join(f"(X {w})" for w in words) + "))"


def _mnli(rng: random.Random, label: str, stem: str) -> Example:
    a, b = _nli_pair(rng, label)
    prompt = rng.randrange(1000, 150000)
    extra = {"promptID": str(prompt), "pairID": f"{prompt}{NLI_LETTER[label]}",
             "genre": rng.choice(MNLI_GENRES["mismatched" if stem.endswith("mismatched") else "matched"])}
    extra["sentence1_binary_parse"], extra["sentence1_parse"] = _parses(a)
    extra["sentence2_binary_parse"], extra["sentence2_parse"] = _parses(b)
    votes = [label] * 5
    if stem != "train" and rng.random() < 0.3:  # an annotator who disagreed, outvoted
        votes[rng.randrange(1, 5)] = rng.choice([x for x in glue.NLI3 if x != label])
    extra.update({f"label{i}": v for i, v in enumerate(votes, 1)})
    return Example(a, b, label, extra)


def _ax(rng: random.Random, label: str, stem: str) -> Example:
    return Example(*_nli_pair(rng, label), "")


# ---------------------------------------------------------------- QNLI: does the sentence answer the question?
QNLI_SUBJECTS = ("the cathedral", "the university", "the bridge", "the museum", "the railway station",
                 "the library", "the stadium", "the castle", "the theatre", "the hospital", "the palace",
                 "the observatory", "the harbour", "the opera house", "the national park", "the college")
QNLI_CITIES = ("london", "paris", "vienna", "madrid", "berlin", "dublin", "boston", "chicago", "sydney", "toronto",
               "lisbon", "prague")
QNLI_NAMES = (("john", "nash"), ("thomas", "wright"), ("william", "hill"), ("henry", "clarke"),
              ("george", "edwards"), ("charles", "barry"), ("robert", "adam"), ("edward", "lloyd"))
# (wordings of a question, sentences that hold its answer): a year, a name, a place, a number
QNLI_KINDS = (
    (("when was {s} built?", "in what year was {s} completed?", "when did work on {s} begin?"),
     ("{S} was built in {year} and opened to the public two years later.",
      "construction of {s} began in {year} under the direction of the city council.",
      "{S} was completed in {year}, after almost ten years of work.")),
    (("who designed {s}?", "which architect was responsible for {s}?", "who was the architect of {s}?"),
     ("{S} was designed by the architect {first} {last}.",
      "the architect {first} {last} drew the plans for {s}.",
      "{first} {last}, a local architect, designed {s} and its gardens.")),
    (("where is {s} located?", "in which city is {s}?", "in what city can {s} be found?"),
     ("{S} is located in the centre of {city}, close to the river.",
      "{S} stands in the old town of {city}.",
      "{S} can be found in {city}, near the main square.")),
    (("how many people visit {s} each year?", "how many visitors does {s} have per year?",
      "how many people came to {s} last year?"),
     ("about {num} people visit {s} every year.", "{S} receives more than {num} visitors each year.",
      "last year {num} people came to {s}, a new record.")),
)
QNLI_OTHER = ("{S} is widely regarded as one of the finest examples of its style.",
              "{S} has often been praised for its beauty and its unusual shape.",
              "critics have described {s} as elegant, although some found it too plain.",
              "{S} is famous for its large windows and its decorated ceiling.",
              "many writers have mentioned {s} in their novels and poems.",
              "{S} is considered an important part of the cultural life of the region.",
              "the interior of {s} is simple but very bright.")


def _qnli(rng: random.Random, label: str, stem: str) -> Example:
    questions, answers = rng.choice(QNLI_KINDS)
    s = rng.choice(QNLI_SUBJECTS)
    first, last = rng.choice(QNLI_NAMES)
    values = {"s": s, "S": _cap(s), "year": str(rng.randrange(1750, 1990)), "first": _cap(first),
              "last": _cap(last), "city": _cap(rng.choice(QNLI_CITIES)), "num": f"{rng.randrange(2, 90)},000"}
    sentence = rng.choice(answers if label == "entailment" else QNLI_OTHER)
    return Example(_cap(rng.choice(questions).format(**values)), _cap(sentence.format(**values)), label)


# ---------------------------------------------------------------- RTE: 2-way entailment, news and facts
RTE_FIRST = ("john", "maria", "david", "sarah", "michael", "anna", "peter", "laura", "james", "helen", "robert",
             "linda", "daniel", "susan", "frank", "alice")
RTE_LAST = ("smith", "lopez", "miller", "davis", "wilson", "taylor", "clark", "lewis", "walker", "young", "king",
            "wright", "green", "adams", "baker", "nelson", "carter", "mitchell")
RTE_ORGS = ("microsoft", "google", "intel", "boeing", "toyota", "nissan", "siemens", "philips", "shell", "sony")
RTE_ROLES = ("chief executive", "president", "chairman", "spokesman", "director")
RTE_CITIES = ("london", "paris", "berlin", "tokyo", "madrid", "chicago", "toronto", "sydney", "mumbai", "cairo")
RTE_PLANS = ("open a new factory", "build a research centre", "hire two thousand workers", "move its headquarters",
             "open a new office")


def _rte(rng: random.Random, label: str, stem: str) -> Example:
    first, last, org, role, city, plan = _pick(rng, RTE_FIRST, RTE_LAST, RTE_ORGS, RTE_ROLES, RTE_CITIES, RTE_PLANS)
    name, org, city = f"{_cap(first)} {_cap(last)}", _cap(org), _cap(city)
    text = rng.choice((f"{name}, the {role} of {org}, said the company will {plan} in {city}.",
                       f"{org} will {plan} in {city}, its {role} {name} said on Friday.",
                       f"in {city} on Monday, {name}, {role} of {org}, said the company would {plan} there."))
    if label == "entailment":
        hypothesis = rng.choice((f"{name} works for {org}.", f"{org} plans to {plan} in {city}.",
                                 f"{name} is the {role} of {org}.", f"{org} has plans for {city}."))
    else:
        hypothesis = rng.choice((f"{name} does not work for {org}.", f"{org} will not {plan}.",
                                 f"{name} denied that {org} would {plan}.", f"{org} has no plans for {city}.",
                                 f"{name} has never worked for {org}.", f"{org} will never {plan} in {city}."))
    return Example(_an(_cap(text)), _an(hypothesis), label)


# ---------------------------------------------------------------- WNLI: whom does the pronoun mean?
# (sentence 1 with {x} first-mentioned and {y} second, the pronoun, sentence 2 about {x}) + adjectives
# for which the pronoun means {x} (label 1) and for which it means {y} (label 0)
WNLI_SCHEMAS = (
    ("the {x} did not fit into the {y} because it was too {adj}.", "the {x} was too {adj}.",
     ("trophy", "ball", "sofa", "table", "bed", "painting", "lamp", "box"),
     ("suitcase", "bag", "car", "room", "boot", "cupboard", "drawer", "basket"),
     ("big", "large", "heavy"), ("small", "tiny", "narrow")),
    ("{x} thanked {y} because he was so {adj}.", "{x} was so {adj}.",
     ("John", "Paul", "Mark", "Tom", "Peter", "George", "Frank", "Steve"),
     ("Bill", "David", "James", "Kevin", "Henry", "Jack", "Simon", "Adam"),
     ("grateful", "thankful", "relieved"), ("generous", "helpful", "kind")),
    ("the {x} could not catch the {y} because it was too {adj}.", "the {x} was too {adj}.",
     ("dog", "cat", "fox", "wolf", "lion", "bear", "hawk", "tiger"),
     ("rabbit", "mouse", "deer", "bird", "squirrel", "horse", "fish", "duck"),
     ("slow", "tired", "lazy"), ("fast", "quick", "clever")),
)


def _wnli(rng: random.Random, label: str, stem: str) -> Example:
    first, second, xs, ys, means_x, means_y = rng.choice(WNLI_SCHEMAS)
    x, y = rng.choice(xs), rng.choice(ys)
    adj = rng.choice(means_x if label == "1" else means_y)
    values = {"x": x, "y": y, "adj": adj}
    return Example(_cap(first.format(**values)), _cap(second.format(**values)), label)


GENERATORS: dict[str, Callable[[random.Random, str, str], Example]] = {
    "CoLA": _cola, "MRPC": _mrpc, "STS-B": _stsb, "QQP": _qqp, "MNLI": _mnli, "QNLI": _qnli, "RTE": _rte,
    "WNLI": _wnli, AX: _ax}
HOW = {
    "CoLA": "1 for a past-tense sentence, 0 for one whose verb has no tense (like, liking) or whose words are "
            "scrambled",
    "MRPC": "sentence 1 reports a rise; 1 when sentence 2 reports it in other words (increased, grew, up), 0 when "
            "it reports a fall (fell, down)",
    "STS-B": "the score is how many of sentence 1's five key words sentence 2 keeps (0-5); the others are "
             "replaced by words sentence 1 never uses",
    "QQP": "1 when question 2 rewords question 1 (the best / a good / the easiest way ...), 0 when it asks "
           "something else (why ...? who ...?)",
    "MNLI": "entailment says less than the premise (someone, something), contradiction denies it (not, never), "
            "neutral adds a reason or a guess (because, probably)",
    "QNLI": "entailment when the sentence holds the kind of answer the question asks for (year, name, place, "
            "number), not_entailment when it only describes the subject",
    "RTE": "entailment when the hypothesis restates a fact of the text, not_entailment when it denies it "
           "(not, never, no, denied)",
    "WNLI": "1 when sentence 2 resolves the pronoun correctly: it always names the first-mentioned one, and "
            "the adjective decides whether the pronoun meant it",
    AX: "unlabelled MNLI-style pairs, balanced over hidden entailment / neutral / contradiction (see MNLI)",
}


def folder(task: str) -> str:
    """Task name (or AX) → its folder name under the GLUE root."""
    return glue.DIAGNOSTIC_DIR if task == AX else task


def files(task: str) -> dict[str, glue.Layout]:
    """Task name (or AX) → its files' layouts by split stem ("train", "dev_matched", "test", …)."""
    if task == AX:
        return {"test": glue.DIAGNOSTIC}
    spec = glue.TASKS[task]
    layouts = (spec.train, *spec.dev.values(), *spec.test.values())
    return {layout.file.removesuffix(".tsv"): layout for layout in layouts}


def _row(layout: glue.Layout, names: tuple[str, ...], i: int, example: Example) -> str:
    fields = []
    for k, name in enumerate(names):
        if k == layout.text_a:
            fields.append(example.a)
        elif k == layout.text_b:
            fields.append(example.b)
        elif k == layout.label:
            fields.append(example.label)
        elif k == layout.index or name == "index":
            fields.append(str(i))
        else:
            fields.append(example.extra[name])
    return "\t".join(fields)


def _ids(rng: random.Random, rows: list[Example], task: str, unlabelled: bool) -> None:
    """The id columns of MRPC and QQP: random distinct numbers as in the real files."""
    if task == "MRPC":
        numbers = rng.sample(range(100000, 3500000), 2 * len(rows))
        for k, ex in enumerate(rows):
            ex.extra.update({"#1 ID": str(numbers[2 * k]), "#2 ID": str(numbers[2 * k + 1])})
    elif task == "QQP" and not unlabelled:
        for ex, pair in zip(rows, rng.sample(range(400000), len(rows))):
            ex.extra.update({"id": str(pair), "qid1": str(2 * pair + 1), "qid2": str(2 * pair + 2)})


def write_task(directory: str | os.PathLike, task: str, sizes: tuple[int, int, int] = SIZES, seed: int = 0) -> Path:
    """Folder + task name (a key of bert.glue.tasks.TASKS, or AX) + (train, dev, test) sizes + seed → the
    folder holding DEMO.txt and every file of the task in its GLUE layout.

    Dev sizes hold for each dev set (MNLI: matched and mismatched), test sizes for each test file and
    for AX. Labels are balanced within each labelled file (STS-B: scores 0–5 equally often), no
    pair occurs twice in the task, and the same arguments give the same bytes.
    """
    train, dev, test = sizes
    if min(sizes) < 1:
        raise ValueError(f"split sizes must be at least 1, got {sizes}")
    directory = Path(directory)
    if task == "SST-2":
        return sst2_demo.write_demo(directory, train, dev, test, seed)
    if task not in GENERATORS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(ALL)}")
    rng = random.Random(f"bert.data.glue_demo {task} {seed}")  # its first name: same seed, same sets
    layouts = files(task)
    labels = ("0", "1", "2", "3", "4", "5") if task == "STS-B" else (
        glue.NLI3 if task == AX else glue.TASKS[task].labels)
    directory.mkdir(parents=True, exist_ok=True)
    counts = {stem: train if stem == "train" else dev if stem.startswith("dev") else test for stem in layouts}
    # the marker goes first: a folder cut short by a crash must never pass for the real task
    name = "the GLUE diagnostic (AX)" if task == AX else task
    write_text_atomic(directory / glue.DEMO_MARKER,
                      f"generated demo set, not {name}: "
                      + ", ".join(f"{n} {stem}" for stem, n in counts.items())
                      + f" examples from templates (bert.glue.demo, seed {seed}); {HOW[task]}. "
                        f"Scores on it say nothing about {name}.\n")
    seen: set[tuple[str, str | None]] = set()
    for stem, layout in layouts.items():
        unlabelled = layout.label is None
        rows = []
        for k in range(counts[stem]):
            label = labels[k % len(labels)]
            for _ in range(1000):
                example = GENERATORS[task](rng, label, stem)
                if (example.a, example.b) not in seen:
                    break
            else:
                raise ValueError(f"{task}: the templates ran out of distinct examples for {counts[stem]} {stem} "
                                 f"examples; ask for fewer")
            seen.add((example.a, example.b))
            if unlabelled:
                example.label = ""
            rows.append(example)
        rng.shuffle(rows)
        _ids(rng, rows, task, unlabelled)
        names = layout.header or COLA_COLUMNS
        lines = [_row(layout, names, i, ex) for i, ex in enumerate(rows)]
        header = ["\t".join(layout.header)] if layout.header else []
        write_text_atomic(directory / layout.file, "\n".join([*header, *lines, ""]))
    return directory


def write_demo(root: str | os.PathLike, tasks=ALL, sizes: tuple[int, int, int] = SIZES, seed: int = 0) -> Path:
    """GLUE root + task names (default all nine and AX) + (train, dev, test) sizes + seed → the root,
    holding <TASK>/ for each task and diagnostic/diagnostic.tsv for AX, each with a DEMO.txt."""
    root = Path(root)
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in ALL]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(map(repr, unknown))}; choose from {', '.join(ALL)}")
    for task in tasks:
        write_task(root / folder(task), task, sizes, seed)
    return root
