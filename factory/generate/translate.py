"""Kind `translate`: carry (toxic, neutral) pairs into every target language.

Both sides of every source pair (see `translate_sources`) are translated into each
language of `translate.languages`, one request per side (`factory.prompts_translate`),
through the recipe's generation backend; the first completion of each request is used.
A translated row keeps its source pair's id in `group`, so every language version of a
pair joins on it (the source-language version is the human row whose `id` equals it),
and its split, so a pair's translations never cross from test into train. Human pairs
read directly in a target language (`translate.parallel`) join the rows of that language.

Every row goes through `factory.checks_translate` and is kept, or dropped with its
reason and failed side; a translated row records whether each side's generation hit the
token limit (attributes `toxic_truncated`, `neutral_truncated`) for the `truncated` check.
Writes data/generated/<recipe>/rows.parquet (train rows, kept and dropped), test.parquet
(the multilingual test set, kept and dropped) and stats.json (outcomes and check
statistics per language).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from factory.checks_translate import SIDES, SideScores, first_failure, language_summary
from factory.generate.translate_sources import parallel_records, source_pairs
from factory.core.langid import check_language
from factory.models.backends import Backend, Request, is_truncated, open_backend, request_seed
from factory.models.loading import Scorer, Similarity, load_similarity, load_toxicity
from factory.prompts_translate import translate_messages
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, content_id, write_json, write_records
from factory.core.layout import Layout


def build_requests(recipe: Recipe, pairs: Sequence[Record], target: str) -> list[Request]:
    """Two requests per pair (toxic side, then neutral side); keys are stable across runs."""
    source_lang, sampling = recipe.human.lang, recipe.generate.sampling
    requests = []
    for pair in pairs:
        for side in SIDES:
            text = getattr(pair, side) or ""
            key = content_id("translate", source_lang, target, side, text)
            messages = tuple(translate_messages(text, side, source_lang, target, recipe.translate.system))
            requests.append(Request(key=key, messages=messages, seed=request_seed(sampling.seed, key)))
    return requests


def translate_pairs(recipe: Recipe, backend: Backend, pairs: Sequence[Record], target: str) -> list[Record]:
    """The unchecked translations of `pairs` into `target`, one row per pair, in order."""
    completions = backend.generate(build_requests(recipe, pairs, target), recipe.generate.sampling)
    rows = []
    for index, pair in enumerate(pairs):
        first = [completions[2 * index + k][0] if completions[2 * index + k] else "" for k in (0, 1)]
        toxic, neutral = (text.strip() for text in first)
        record = Record.make("pair", lang=target, toxic=toxic, neutral=neutral, source="synthetic:translate",
                             recipe=recipe.name, split=pair.split, group=pair.id)
        record.id = content_id(record.id, pair.id)
        record.attributes = {"synthetic_side": "toxic", "translated": True, "source_lang": recipe.human.lang,
                             **{f"{side}_truncated": is_truncated(text) for side, text in zip(SIDES, first)}}
        rows.append(record)
    return rows


class Scorers:
    """The similarity and toxicity models the checks need, loaded once."""

    def __init__(self, recipe: Recipe, root: Path):
        self.similarity: Similarity = load_similarity(recipe.models.similarity, root)
        self.toxicity: Scorer = load_toxicity(recipe.models.toxicity, root)


def score_sides(rows: Sequence[Record], sources: Sequence[Record | None],
                scorers: Scorers) -> tuple[dict[str, np.ndarray], dict[str, dict[int, float]], np.ndarray]:
    """P(toxic) of each side, source-translation cosine of each side (translated rows only, by
    row index) and the toxic-neutral cosine of every row."""
    texts = {side: [getattr(r, side) or "" for r in rows] for side in SIDES}
    toxicity = {side: scorers.toxicity(texts[side]) for side in SIDES}
    translated = [i for i, s in enumerate(sources) if s is not None]
    similarity = {}
    for side in SIDES:
        cosines = scorers.similarity.pairwise([getattr(sources[i], side) or "" for i in translated],
                                              [texts[side][i] for i in translated])
        similarity[side] = dict(zip(translated, map(float, cosines)))
    return toxicity, similarity, scorers.similarity.pairwise(texts["toxic"], texts["neutral"])


def _record_side(record: Record, side: str, scores: SideScores) -> None:
    record.attributes.update({f"{side}_lang": scores.language.predicted,
                              f"{side}_lang_p": round(scores.language.confidence, 4),
                              f"{side}_script_share": round(scores.language.script_share, 4),
                              f"{side}_toxicity": scores.toxicity})
    if scores.similarity is not None:
        record.attributes[f"{side}_similarity"] = scores.similarity


def check_rows(recipe: Recipe, rows: Sequence[Record], sources: Sequence[Record | None], scorers: Scorers) -> None:
    """Score and check every row in place; `sources[i]` is row i's source pair (None for human rows)."""
    checks = recipe.translate.checks
    settings = dict(min_script_share=checks.min_script_share, min_confidence=checks.min_language_confidence,
                    script=checks.script, language=checks.language, mixed_words=checks.mixed_script_words)
    toxicity, similarity, pair_similarity = score_sides(rows, sources, scorers)
    for index, (record, source) in enumerate(zip(rows, sources)):
        sides = {}
        for side in SIDES:
            text = getattr(record, side) or ""
            sides[side] = SideScores(text, getattr(source, side) if source else None,
                                     check_language(text, record.lang, **settings),
                                     similarity[side].get(index), float(toxicity[side][index]),
                                     truncated=bool(record.attributes.get(f"{side}_truncated", False)))
            _record_side(record, side, sides[side])
        record.attributes["pair_similarity"] = float(pair_similarity[index])
        reason, failed_side = first_failure(sides, checks, human=source is None)
        if reason:
            record.drop(reason)
            record.attributes["drop_side"] = failed_side


def generate_rows(recipe: Recipe, backend: Backend, pairs: Sequence[Record], root: Path) -> list[Record]:
    """Translated and parallel rows of every target language, checked."""
    rows: list[Record] = []
    sources: list[Record | None] = []
    for target in recipe.translate.languages:
        translated = translate_pairs(recipe, backend, pairs, target)
        human = parallel_records(recipe, target)
        rows += translated + human
        sources += list(pairs) + [None] * len(human)
    check_rows(recipe, rows, sources, Scorers(recipe, root))
    return rows


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/generated/<recipe>/{rows.parquet, test.parquet, stats.json}."""
    pairs = source_pairs(recipe, Path(root), limit)
    backend = open_backend(recipe.generate, recipe.models.generator, root,
                           cache=Layout(root).cache(recipe.name) / "requests.sqlite")
    rows = generate_rows(recipe, backend, pairs, Path(root))
    train, test = [r for r in rows if r.split != "test"], [r for r in rows if r.split == "test"]
    threshold = recipe.translate.checks.toxicity_threshold
    out = Layout(root).generated(recipe.name)
    with atomic_dir(out) as tmp:
        write_records(tmp / "rows.parquet", train)
        write_records(tmp / "test.parquet", test)
        write_json(tmp / "stats.json", {
            "source_pairs": {"train": sum(p.split != "test" for p in pairs),
                             "test": sum(p.split == "test" for p in pairs)},
            "source_lang": recipe.human.lang, "languages": recipe.translate.languages,
            "train": language_summary(train, threshold), "test": language_summary(test, threshold),
            "backend": backend.describe(), "sampling": recipe.generate.sampling.model_dump()})
    return out
