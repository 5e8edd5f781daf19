"""Training text for the tiny zoo: stdlib docstrings, the seed corpus, chat examples, noise.

Everything here is deterministic: files are read in sorted order, modules are parsed
with `ast` (never imported), and every random choice comes from a seeded `random.Random`.

`ZOO_HOLDOUT_FRACTION` of the seed pairs (the last ones, by file order) never reach any
zoo model or the zoo tokenizer, so the pipeline's human test split can be taken from
them without leaking into the tiny profile's models. The toxicity classifier is scored on
exactly those held-out pairs.
"""

from __future__ import annotations

import ast
import csv
import functools
import os
import random
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from factory.core.errors import FactoryError
from factory.prompts import Direction, example_pair, messages_to_text, rewrite_messages

ZOO_HOLDOUT_FRACTION = 0.2
"""Share of seed pairs (the last ones in pairs.tsv) that no zoo model is trained on."""

SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "seed"
MAX_STDLIB_SENTENCES = 40_000
SKIPPED_DIRS = frozenset({"test", "tests", "idlelib", "lib2to3", "site-packages", "__pycache__"})
MIN_WORDS, MAX_WORDS = 4, 40
MIN_LETTER_SHARE = 0.85

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_DOCSTRING_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class SeedCorpus:
    """The seed corpus split for the zoo: `train_pairs` may be trained on, `heldout_pairs` never."""

    train_pairs: list[tuple[str, str]]
    heldout_pairs: list[tuple[str, str]]
    neutral: list[str]
    toxic: list[str]


def stdlib_files(root: Path | None = None) -> list[Path]:
    """All .py files of the standard library in sorted walk order, minus tests and tools."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        files.extend(Path(folder) / n for n in sorted(names) if n.endswith(".py"))
    return files


def docstrings(path: Path) -> list[str]:
    """Module, class and function docstrings of one source file (empty if it does not parse)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    found = (ast.get_docstring(node) for node in definitions(tree))
    return [d for d in found if d]


def definitions(tree: ast.Module) -> list[ast.AST]:
    """The module and every class and function in it, walking statements only (fast)."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, _DOCSTRING_NODES):
            found.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stack.extend(reversed(children))
    return found


def prose_sentences(docstring: str) -> list[str]:
    """Split a docstring into sentences, skipping code blocks, doctests and tables."""
    sentences: list[str] = []
    for paragraph in docstring.split("\n\n"):
        lines = paragraph.splitlines()
        if any(line.startswith((" ", "\t", ">>>", "...")) for line in lines):
            continue
        text = " ".join(paragraph.split())
        sentences.extend(s.strip() for s in _SENTENCE_END.split(text))
    return [s for s in sentences if is_plain_sentence(s)]


def is_plain_sentence(sentence: str) -> bool:
    """True for a 4-40 word sentence made mostly of letters (no code, no markup)."""
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or not sentence[0].isupper():
        return False
    visible = sentence.replace(" ", "")
    letters = sum(ch.isalpha() for ch in visible)
    return letters / len(visible) >= MIN_LETTER_SHARE and not re.search(r"[_=<>{}\[\]|`*#@\\]", sentence)


@functools.lru_cache(maxsize=2)
def stdlib_sentences(limit: int = MAX_STDLIB_SENTENCES) -> tuple[str, ...]:
    """Distinct docstring sentences of the standard library, in file order, at most `limit`."""
    seen: dict[str, None] = {}
    for path in stdlib_files():
        for doc in docstrings(path):
            for sentence in prose_sentences(doc):
                seen.setdefault(sentence, None)
                if len(seen) >= limit:
                    return tuple(seen)
    return tuple(seen)


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a text file."""
    if not path.is_file():
        raise FactoryError(f"{path}: seed file is missing")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(toxic, neutral) rows of a `toxic<TAB>neutral` file with that header."""
    if not path.is_file():
        raise FactoryError(f"{path}: seed file is missing")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or [c.strip() for c in rows[0]] != ["toxic", "neutral"]:
        raise FactoryError(f"{path}: the header must be 'toxic<TAB>neutral', found {rows[:1]}")
    pairs = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise FactoryError(f"{path}: line {number} must hold a non-empty toxic and neutral text")
        pairs.append((row[0].strip(), row[1].strip()))
    return pairs


def load_seed(seed_dir: Path = SEED_DIR) -> SeedCorpus:
    """Read the seed corpus and hold out the last `ZOO_HOLDOUT_FRACTION` of its pairs."""
    pairs = read_pairs(seed_dir / "pairs.tsv")
    cut = len(pairs) - round(len(pairs) * ZOO_HOLDOUT_FRACTION)
    return SeedCorpus(
        train_pairs=pairs[:cut],
        heldout_pairs=pairs[cut:],
        neutral=read_lines(seed_dir / "neutral.txt"),
        toxic=read_lines(seed_dir / "toxic.txt"),
    )


def seed_sentences(seed: SeedCorpus) -> list[str]:
    """Every seed sentence the zoo may train on (held-out pairs excluded)."""
    sides = [text for pair in seed.train_pairs for text in pair]
    return sides + seed.neutral + seed.toxic


def chat_prompt(direction: Direction, text: str, shots: list[tuple[str, str]]) -> str:
    """The prompt string the pipeline sends for a rewrite, as the zoo chat template renders it."""
    examples = [example_pair(direction, toxic, neutral) for toxic, neutral in shots]
    return messages_to_text(rewrite_messages(direction, text, examples))


def chat_examples(pairs: list[tuple[str, str]], eos: str, rng: random.Random) -> list[tuple[str, str]]:
    """(prompt, answer) rewrite dialogues for both directions, with 0-2 few-shot examples each.

    The prompt is what the pipeline sends (it ends with `assistant:`); the answer is one
    space, the rewrite and `eos`, so a model trained on these stops after one rewrite.
    """
    dialogues = []
    for index, (toxic, neutral) in enumerate(pairs):
        others = pairs[:index] + pairs[index + 1 :]
        for direction in ("toxify", "detoxify"):
            source, target = example_pair(direction, toxic, neutral)
            shots = rng.sample(others, k=min(rng.randint(0, 2), len(others)))
            dialogues.append((chat_prompt(direction, source, shots), f" {target}{eos}"))
    return dialogues


def corrupt(sentence: str, rng: random.Random) -> str:
    """A disfluent version of `sentence`: words shuffled, dropped or doubled, or letters garbled."""
    words = sentence.split()
    for _ in range(5):
        kind = rng.choice(("shuffle", "drop", "duplicate", "garble"))
        noisy = _CORRUPTIONS[kind](list(words), rng)
        if noisy != words:
            return " ".join(noisy)
    return " ".join(reversed(words))


def _shuffle(words: list[str], rng: random.Random) -> list[str]:
    rng.shuffle(words)
    return words


def _drop(words: list[str], rng: random.Random) -> list[str]:
    doomed = set(rng.sample(range(len(words)), k=max(1, len(words) // 3)))
    return [w for i, w in enumerate(words) if i not in doomed]


def _duplicate(words: list[str], rng: random.Random) -> list[str]:
    for _ in range(max(1, len(words) // 4)):
        at = rng.randrange(len(words))
        words.insert(at, words[at])
    return words


def _garble(words: list[str], rng: random.Random) -> list[str]:
    for at in rng.sample(range(len(words)), k=max(1, len(words) // 3)):
        letters = list(words[at])
        i = rng.randrange(len(letters))
        letters[i] = rng.choice("abcdefghijklmnopqrstuvwxyz") * rng.randint(0, 2)
        words[at] = "".join(letters) or "x"
    return words


_CORRUPTIONS = {"shuffle": _shuffle, "drop": _drop, "duplicate": _duplicate, "garble": _garble}
