"""Benchmark corpus for bench/dedup.py: ParaDetox-length sentences and synthetic near-duplicates.

Base sentences come from ../shared/data (ParaDetox toxic + neutral columns, PseudoParaDetox
human and LLM columns), or from a text file with one sentence per line. The corpus is
built family by family (families are contiguous, so any prefix holds whole families): a
root sentence (a real one, or, half the time, a new one spliced from the first half of
one sentence and the second half of another) followed by 0-7 variants of the root with
known edits: 0 edits (case and punctuation noise only, an exact duplicate after
normalisation) or 1-3 word edits (substitute, delete, insert, swap neighbours, typo).
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
EDIT_COUNTS, EDIT_WEIGHTS = (0, 1, 2, 3), (0.2, 0.4, 0.25, 0.15)


def shared_sentences() -> list[str]:
    """Distinct sentences of 3+ words from the shared ParaDetox and PseudoParaDetox files."""
    found: list[str] = []
    with open(SHARED / "paradetox" / "paradetox.tsv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quotechar='"'):
            found.extend(v for v in row.values() if v)
    with open(SHARED / "pseudoparadetox" / "llama3_8b_10shot_detox.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found.extend(row[c] for c in ("en_toxic_comment", "en_neutral_comment", "generated_neutral_sentence"))
    return sorted({" ".join(s.split()) for s in found if len(s.split()) >= 3})


MAX_BASE_CHARS = 10_000


def file_sentences(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """Lines of a text file as base sentences; lines that are not UTF-8, blank, or longer than
    MAX_BASE_CHARS (copied into many variants they would swamp the corpus; the kernels' own
    1 MB-line check is in bench/dedup.py) are dropped and recorded by line number."""
    kept: list[str] = []
    dropped: dict[str, list[int]] = {"not_utf8": [], "blank": [], "too_long": []}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                dropped["not_utf8"].append(number)
                if len(dropped["not_utf8"]) == 1:
                    print(f"{path}:{number}: not UTF-8 ({error.reason} at byte {error.start}); line dropped",
                          file=sys.stderr)
                continue
            if not line.strip():
                dropped["blank"].append(number)
            elif len(line) > MAX_BASE_CHARS:
                dropped["too_long"].append(number)
            else:
                kept.append(line)
    if not kept:
        raise SystemExit(f"{path}: no usable lines (dropped: { {k: len(v) for k, v in dropped.items()} })")
    return kept, dropped


def _edit(words: list[str], vocabulary: list[str], rng: random.Random) -> list[str]:
    words = list(words)
    i = rng.randrange(len(words))
    op = rng.choice(("sub", "del", "ins", "swap", "typo"))
    if op == "sub":
        words[i] = rng.choice(vocabulary)
    elif op == "del" and len(words) > 3:
        del words[i]
    elif op == "ins":
        words.insert(i, rng.choice(vocabulary))
    elif op == "swap" and i + 1 < len(words):
        words[i], words[i + 1] = words[i + 1], words[i]
    else:
        word = words[i]
        j = rng.randrange(len(word))
        words[i] = word[:j] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[j + 1:]
    return words


def _noise(text: str, rng: random.Random) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return text.upper() if rng.random() < 0.2 else text.capitalize()
    if choice == 1:
        return text.rstrip(" .!?") + rng.choice((" !", "!!", " .", "?"))
    return text.replace(" ", "  ", 1)


def variant(root: str, vocabulary: list[str], rng: random.Random) -> str:
    """The root with 0-3 word edits and case/punctuation noise."""
    words = root.split()
    for _ in range(rng.choices(EDIT_COUNTS, EDIT_WEIGHTS)[0]):
        words = _edit(words, vocabulary, rng)
    return _noise(" ".join(words), rng)


def make_corpus(pool: list[str], rows: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """`rows` texts and the family id of each (families contiguous, see module doc)."""
    rng = random.Random(seed)
    vocabulary = [w for s in rng.sample(pool, min(len(pool), 5000)) for w in s.split()]
    texts: list[str] = []
    family: list[int] = []
    families = 0
    while len(texts) < rows:
        first = rng.choice(pool)
        if rng.random() < 0.5:
            head, tail = first.split(), rng.choice(pool).split()
            first = " ".join(head[:max(len(head) // 2, 1)] + tail[len(tail) // 2:])
        members = [first] + [variant(first, vocabulary, rng) for _ in range(min(int(rng.expovariate(0.6)), 7))]
        texts.extend(members)
        family.extend([families] * len(members))
        families += 1
    return texts[:rows], family[:rows]
