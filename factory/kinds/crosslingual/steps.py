"""Kind `crosslingual` (Beniwal et al. 2025, "Breaking mBad"): the split (generate) and what the stages share.

Layout under data/crosslingual/<recipe>/:

- `split/split.json` (generate): each language's train and test pairs, selected exactly as the
  reference (`factory.crossft.split`), their sources, and the factory-made corpus's pairs
  (`crosslingual.data.corpus`) with every dropped row counted by reason;
- `trained/<method>-<data>-<share>/` (train, one DVC stage each, `factory.kinds.crosslingual.train_step`):
  the LoRA adapter and `setting.json`; checkpoints in data/cache/<recipe>/crosslingual/ (resumable);
- `cells/<setting>/<lang>.parquet` and `.json` (one DVC stage per model and eval language,
  `factory.kinds.crosslingual.cells`): the continuations of every prompt set with their toxicity and
  perplexity, and the cell's numbers for `dvc metrics`;
- `eval/` (evaluate): rows.parquet (every cell's rows), matrices.json (every cell of every prompt
  set with 95% intervals) and the heat maps (`factory.kinds.crosslingual.evaluation`).

The certificate is `factory.kinds.crosslingual.certification`; the report page and the DVC metrics
summary (data/metrics/<recipe>.json) are `factory.report_crosslingual`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError, check_limit
from factory.kinds.crosslingual.naming import base_dir
from factory.recipe import Recipe
from factory.core.records import atomic_dir, read_json, write_json

SEED_PAIRS = Path(__file__).resolve().parents[2] / "data" / "seed" / "pairs.tsv"
FIXTURE_DIR = Path(__file__).resolve().parents[2] / "data" / "multilingual"


def read_upstream(recipe: Recipe, path: Path, verb: str) -> Any:
    """The JSON an earlier stage wrote; a missing one names the stage to run first (`FactoryError`)."""
    if not Path(path).is_file():
        raise FactoryError(f"{path}: missing; run `factory {verb} {recipe.path or recipe.name}` first")
    return read_json(path)




def _where(recipe: Recipe) -> str:
    return recipe.path or recipe.name


def _language_pairs(recipe: Recipe, lang: str) -> tuple[str, list[tuple[str, str]]]:
    from factory.crossft import split

    data = recipe.crosslingual.data
    source = data.language_sources.get(lang, data.source)
    where = f"{_where(recipe)}: crosslingual.data ({lang})"
    if source == "seed":
        return "seed", split.seed_pairs(SEED_PAIRS)
    folder = FIXTURE_DIR if source == "fixture" else Path(source).expanduser()
    if folder.is_dir():
        return source, split.folder_pairs(folder, lang, where)
    return source, split.hub_pairs(source, lang, (data.toxic_column, data.neutral_column), data.revision, where)


def _corpus_pairs(recipe: Recipe, root: Path, test_toxic: set[str]) -> dict[str, Any]:
    from factory.core.records import read_records

    data = recipe.crosslingual.data
    path = Path(root) / "filtered" / data.corpus / "rows.parquet"
    rows = read_records(path, kept_only=True)
    dropped = {"not a pair": 0, "language not evaluated": 0, "empty side": 0, "toxic side in a test split": 0}
    pairs: dict[str, list[tuple[str, str]]] = {lang: [] for lang in data.languages}
    for row in rows:
        reason = ("not a pair" if row.kind != "pair" else "language not evaluated" if row.lang not in pairs
                  else "empty side" if not (row.toxic or "").strip() or not (row.neutral or "").strip()
                  else "toxic side in a test split" if row.toxic.strip() in test_toxic else "")
        if reason:
            dropped[reason] += 1
        else:
            pairs[row.lang].append((row.toxic.strip(), row.neutral.strip()))
    capped = {lang: items[: data.train_rows] for lang, items in pairs.items()}
    over_cap = sum(len(pairs[lang]) - len(capped[lang]) for lang in pairs)
    return {"source": str(path), "kept_rows_read": len(rows), "dropped": {**dropped, "over train_rows": over_cap},
            "train": {lang: [list(p) for p in items] for lang, items in capped.items() if items}}


def generate(recipe: Recipe, root: Path, limit: int | None = None) -> Path:
    """Write split/split.json: every language's reference split (and the factory corpus when named)."""
    from factory.crossft.split import empty_sides, split_pairs

    check_limit(limit, "generate")
    data = recipe.crosslingual.data
    languages: dict[str, Any] = {}
    for lang in data.languages:
        source, pairs = _language_pairs(recipe, lang)
        train, test = split_pairs(pairs, data.shuffle_seed, data.train_rows, data.test_rows,
                                  f"{_where(recipe)}: crosslingual.data ({lang}, {source})")
        languages[lang] = {"source": source, "rows": len(pairs), "empty_sides": empty_sides(train + test),
                           "train": [list(p) for p in train], "test": [list(p) for p in test[:limit]]}
    split = {"shuffle_seed": data.shuffle_seed, "train_rows": data.train_rows, "test_rows": data.test_rows,
             "languages": languages}
    if data.corpus:
        test_toxic = {toxic for entry in languages.values() for toxic, _ in entry["test"]}
        split["corpus"] = _corpus_pairs(recipe, root, test_toxic)
    out = base_dir(recipe, root) / "split"
    with atomic_dir(out) as tmp:
        write_json(tmp / "split.json", split)
    return out


def train_rows(split: dict[str, Any], data: str, order: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The train pairs of one data setting, per language in `order` (the recipe's: the share draws and
    the all-language data follow it, as the reference's LANGUAGES): one language, `all`, or `corpus`."""
    if data == "corpus":
        corpus = split["corpus"]["train"]
        return {lang: [tuple(p) for p in corpus[lang]] for lang in order if lang in corpus}
    langs = order if data == "all" else [data]
    return {lang: [tuple(p) for p in split["languages"][lang]["train"]] for lang in langs}








def model_target(recipe: Recipe, root: Path) -> str:
    """The local folder or Hub id of the fine-tuned base model."""
    from factory.models.loading import resolve

    return resolve(recipe.crosslingual.model, root)
