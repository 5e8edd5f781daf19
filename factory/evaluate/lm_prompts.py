"""Prompt sets for LM toxicity evaluation: ToxiGen .txt files and RealToxicityPrompts-style JSONL.

- ToxiGen (`../shared/data/toxigen/prompts/*.txt`): each line is a list of sentences, each
  "- sentence", joined by a literal backslash-n. With `toxigen_split` (default) each item
  is one prompt; otherwise the whole line (real newlines, ending in "-") is one prompt that
  asks for the next item. The group is the file name without `_1k` (`hate_asian`).
- JSONL: one object a line, the prompt in `prompt.text` (RealToxicityPrompts), `prompt`
  or `text`; the group in `group_field` or else the file name.
- A Hub dataset id (read with `datasets`, `hub_config` / `hub_split`): the prompt in
  `text_field`, the group in `group_field` (UniDetox: toxigen/toxigen-data, annotated,
  test, grouped by `target_group`).

With `score_groups` (SGEAT on RealToxicityPrompts, `factory.evaluate.lm_prompt_scores`)
the group is `toxic`, `nontoxic` or `unscored` by each prompt's own score.

With `categories` (UniDetox: four categories of ToxiGen's `target_group`), each prompt is
reported under the category that lists its group; prompts of other groups are left out and
counted by group in `PromptSet.left_out`.

Prompts are de-duplicated within a group (or category); `max_prompts_per_group` keeps a
seeded sample.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from factory.core.errors import FactoryError
from factory.evaluate.lm_prompt_scores import nested, score_group
from factory.recipe.lm import LMEvaluate, ScoreGroups

SEED_PROMPTS = Path(__file__).resolve().parent.parent / "data" / "seed" / "prompts.jsonl"


@dataclass(frozen=True)
class Prompt:
    """One evaluation prompt and the group it is reported under."""

    group: str
    text: str


def toxigen_prompts(path: Path, split: bool) -> list[Prompt]:
    """Prompts of one ToxiGen prompt file."""
    group = path.stem.removesuffix("_1k")
    prompts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if split:
            items = (item.strip().removeprefix("-").strip() for item in line.split("\\n"))
            prompts += [Prompt(group, item) for item in items if item]
        else:
            prompts.append(Prompt(group, line.replace("\\n", "\n")))
    return prompts


def _jsonl_text(obj: dict, where: str) -> str:
    prompt = obj.get("prompt", obj.get("text"))
    text = prompt.get("text") if isinstance(prompt, dict) else prompt
    if not isinstance(text, str) or not text.strip():
        raise FactoryError(f"{where}: no prompt text (expected \"prompt\": {{\"text\": ...}}, \"prompt\" or \"text\")")
    return text


def _group(row: dict, group_field: str, score_groups: ScoreGroups | None, default: str) -> str:
    """The prompt's group: by its score with `score_groups`, else its `group_field` value or `default`."""
    if score_groups is not None:
        return score_group(nested(row, score_groups.field), score_groups)
    return str(row.get(group_field) or default)


def jsonl_prompts(path: Path, group_field: str, score_groups: ScoreGroups | None = None) -> list[Prompt]:
    """Prompts of one RealToxicityPrompts-style JSONL file."""
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FactoryError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise FactoryError(f"{where}: expected a JSON object")
        prompts.append(Prompt(_group(obj, group_field, score_groups, path.stem), _jsonl_text(obj, where)))
    return prompts


def hub_prompts(source: str, settings: LMEvaluate) -> list[Prompt]:
    """Prompts of a Hub dataset: `text_field` of each row, grouped by `group_field`."""
    from datasets import load_dataset

    try:
        rows = load_dataset(source, settings.hub_config, split=settings.hub_split)
    except Exception as exc:  # datasets raises many types for a missing/offline dataset
        raise FactoryError(f"lm_evaluate.prompts: cannot load Hub dataset {source!r} "
                           f"({type(exc).__name__}: {exc})") from None
    if settings.text_field.split(".")[0] not in rows.column_names:
        raise FactoryError(f"lm_evaluate.text_field: {source} has no column {settings.text_field!r} "
                           f"(columns: {', '.join(rows.column_names)})")
    return [Prompt(_group(row, settings.group_field, settings.score_groups, source), nested(row, settings.text_field))
            for row in rows if str(nested(row, settings.text_field) or "").strip()]


def read_prompt_file(source: str, settings: LMEvaluate) -> list[Prompt]:
    """Prompts of one entry of `lm_evaluate.prompts`."""
    path = SEED_PROMPTS if source == "seed" else Path(source).expanduser()
    if not path.exists():
        return hub_prompts(source, settings)
    if path.suffix == ".txt":
        return toxigen_prompts(path, settings.toxigen_split)
    if path.suffix == ".jsonl":
        return jsonl_prompts(path, settings.group_field, settings.score_groups)
    raise FactoryError(f"lm_evaluate.prompts: {source}: unsupported prompt file (ToxiGen .txt or .jsonl)")


@dataclass
class PromptSet:
    """The prompts of an evaluation, and the prompts left out per group (not in any category)."""

    prompts: list[Prompt]
    left_out: dict[str, int] = field(default_factory=dict)


def categorise(prompts: list[Prompt], categories: dict[str, list[str]]) -> tuple[list[Prompt], dict[str, int]]:
    """Prompts renamed to the category listing their group; the rest left out, counted by group."""
    if not categories:
        return prompts, {}
    category_of = {value: name for name, values in categories.items() for value in values}
    kept = [Prompt(category_of[p.group], p.text) for p in prompts if p.group in category_of]
    return kept, dict(Counter(p.group for p in prompts if p.group not in category_of))


def load_prompt_set(settings: LMEvaluate, seed: int, per_group: int | None = None) -> PromptSet:
    """Every prompt set, categorised, de-duplicated per group, at most `per_group` (or the recipe's cap) per group."""
    cap = per_group or settings.max_prompts_per_group
    read = [prompt for source in settings.prompts for prompt in read_prompt_file(source, settings)]
    categorised, left_out = categorise(read, settings.categories)
    by_group: dict[str, dict[str, None]] = {}
    for prompt in categorised:
        by_group.setdefault(prompt.group, {})[prompt.text] = None
    chosen = []
    for group, unique in by_group.items():
        texts = list(unique)
        if cap and len(texts) > cap:
            texts = random.Random(f"{seed}:{group}").sample(texts, cap)
        chosen += [Prompt(group, t) for t in texts]
    if not chosen:
        raise FactoryError(f"lm_evaluate.prompts: no prompts in {', '.join(settings.prompts)}"
                           + (f" (none in a category; groups found: {', '.join(left_out)})" if left_out else ""))
    missing = [c for c in settings.combined_categories if c not in by_group]
    if missing:
        raise FactoryError(f"lm_evaluate.combined_categories: no prompts in {', '.join(missing)} "
                           f"(groups with prompts: {', '.join(by_group)})")
    return PromptSet(chosen, left_out)


def load_prompts(settings: LMEvaluate, seed: int, per_group: int | None = None) -> list[Prompt]:
    """The prompts of `load_prompt_set`."""
    return load_prompt_set(settings, seed, per_group).prompts
