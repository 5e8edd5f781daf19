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

Prompts are de-duplicated within a group; `max_prompts_per_group` keeps a seeded sample.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from factory.errors import FactoryError
from factory.recipe.lm import LMEvaluate

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


def jsonl_prompts(path: Path, group_field: str) -> list[Prompt]:
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
        prompts.append(Prompt(str(obj.get(group_field) or path.stem), _jsonl_text(obj, where)))
    return prompts


def hub_prompts(source: str, settings: LMEvaluate) -> list[Prompt]:
    """Prompts of a Hub dataset: `text_field` of each row, grouped by `group_field`."""
    from datasets import load_dataset

    try:
        rows = load_dataset(source, settings.hub_config, split=settings.hub_split)
    except Exception as exc:  # datasets raises many types for a missing/offline dataset
        raise FactoryError(f"lm_evaluate.prompts: cannot load Hub dataset {source!r} ({type(exc).__name__}: {exc})") from None
    if settings.text_field not in rows.column_names:
        raise FactoryError(f"lm_evaluate.text_field: {source} has no column {settings.text_field!r} "
                           f"(columns: {', '.join(rows.column_names)})")
    return [Prompt(str(row.get(settings.group_field) or source), row[settings.text_field])
            for row in rows if str(row[settings.text_field] or "").strip()]


def read_prompt_file(source: str, settings: LMEvaluate) -> list[Prompt]:
    """Prompts of one entry of `lm_evaluate.prompts`."""
    path = SEED_PROMPTS if source == "seed" else Path(source).expanduser()
    if not path.exists():
        return hub_prompts(source, settings)
    if path.suffix == ".txt":
        return toxigen_prompts(path, settings.toxigen_split)
    if path.suffix == ".jsonl":
        return jsonl_prompts(path, settings.group_field)
    raise FactoryError(f"lm_evaluate.prompts: {source}: unsupported prompt file (ToxiGen .txt or .jsonl)")


def load_prompts(settings: LMEvaluate, seed: int, per_group: int | None = None) -> list[Prompt]:
    """Every prompt set, de-duplicated per group, at most `per_group` (or the recipe's cap) per group."""
    cap = per_group or settings.max_prompts_per_group
    by_group: dict[str, dict[str, None]] = {}
    for source in settings.prompts:
        for prompt in read_prompt_file(source, settings):
            by_group.setdefault(prompt.group, {})[prompt.text] = None
    chosen = []
    for group, unique in by_group.items():
        texts = list(unique)
        if cap and len(texts) > cap:
            texts = random.Random(f"{seed}:{group}").sample(texts, cap)
        chosen += [Prompt(group, t) for t in texts]
    if not chosen:
        raise FactoryError(f"lm_evaluate.prompts: no prompts in {', '.join(settings.prompts)}")
    return chosen
