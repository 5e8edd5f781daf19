"""`distill` (UniDetox, Lu et al., ICLR 2025): detoxifying text distilled by contrastive decoding.

Stage 1 fine-tunes a toxic copy of the base LM (`models.generator`) on the recipe's toxic
corpus (`distill.toxic_corpus`, pad tokens masked out of the loss), with the shared
training loop. The result is cached under data/cache/<recipe>/toxic-<fingerprint>/, keyed
by the base model, the settings, the seed and the exact texts, so reruns skip it.

Stage 2 samples `num_texts` texts from a BOS-only prompt with
`factory.models.contrastive` (two models, two KV caches, alpha mask, optional
top-k/top-p recorded in stats.json). It runs on transformers only: every step needs
both models' full logits, which vLLM and OpenAI-style servers do not expose.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError
from factory.models.contrastive import ContrastiveSettings, contrastive_generate
from factory.models.loading import default_device, describe, load_causal_lm
from factory.progress import progress
from factory.recipe import Recipe
from factory.recipe.lm import Distill
from factory.core.records import Record, atomic_dir, content_id, read_json, read_parquet, write_json, write_records
from factory.train.causal import fine_tune, log_summary, save_model
from factory.train.loss_log import summary_only
from factory.core.layout import Layout

SEED_TOXIC = Path(__file__).resolve().parent.parent / "data" / "seed" / "toxic.txt"


def _table_rows(path: Path, settings: Distill) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with path.open(encoding="utf-8", newline="") as handle:
                return list(csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ","))
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if suffix == ".parquet":
            return read_parquet(path).to_pylist()
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise FactoryError(f"{path}: cannot read distill.toxic_corpus ({exc})") from None
    raise FactoryError(f"{path}: distill.toxic_corpus: unsupported file type {suffix!r} "
                       "(.txt .csv .tsv .jsonl .parquet)")


def _hub_rows(settings: Distill) -> list[dict[str, Any]]:
    from datasets import load_dataset

    try:
        return list(load_dataset(settings.toxic_corpus, split=settings.toxic_split))
    except Exception as exc:  # datasets raises many types for a missing/offline dataset
        raise FactoryError(f"distill.toxic_corpus: cannot load Hub dataset {settings.toxic_corpus!r} "
                           f"({type(exc).__name__}: {exc})") from None


def select_rows(rows: list[dict[str, Any]], settings: Distill, name: str) -> list[str]:
    """Texts of the rows that pass `toxic_where`; a missing column is an error naming it."""
    texts = []
    for number, row in enumerate(rows, start=1):
        for column in (settings.toxic_column, *settings.toxic_where):
            if column not in row:
                raise FactoryError(f"{name}: row {number}: no column {column!r} (columns: {', '.join(map(str, row))})")
        if all(str(row[col]) in allowed for col, allowed in settings.toxic_where.items()):
            texts.append(str(row[settings.toxic_column] or "").strip())
    return [t for t in texts if t]


def read_toxic_corpus(settings: Distill, seed: int) -> list[str]:
    """The toxic texts of stage 1, in a seeded order, at most `toxic_max_rows`."""
    source = settings.toxic_corpus
    path = SEED_TOXIC if source == "seed" else Path(source).expanduser()
    if path.suffix.lower() == ".txt" and path.exists():
        texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif path.exists():
        texts = select_rows(_table_rows(path, settings), settings, str(path))
    else:
        texts = select_rows(_hub_rows(settings), settings, source)
    if not texts:
        raise FactoryError(f"distill.toxic_corpus: {source}: no toxic text left (check toxic_column and toxic_where)")
    random.Random(seed).shuffle(texts)
    return texts[: settings.toxic_max_rows] if settings.toxic_max_rows else texts


def toxic_model_key(recipe: Recipe, texts: list[str], root: Path) -> str:
    """Identity of the toxic model: the base model (ref, revision, dtype, local fingerprint), every
    fine-tuning setting, the seed and the toxic texts."""
    return content_id(json.dumps(describe(recipe.models.generator, root), sort_keys=True),
                      recipe.distill.toxic_model.model_dump_json(), str(recipe.seed), *texts)


def toxic_folders(recipe: Recipe, root: Path, key: str) -> tuple[Path, Path]:
    """The cached toxic model <root>/cache/<recipe>/toxic-<key> and its training checkpoints folder."""
    folder = Layout(root).cache(recipe.name) / f"toxic-{key}"
    return folder, folder.with_name(folder.name + "-checkpoints")


def current_toxic_folders(recipe: Recipe, root: Path = Path("data")) -> list[Path]:
    """The toxic-model folders `toxic_model` would use now (for `factory clean`; reads the toxic corpus)."""
    texts = read_toxic_corpus(recipe.distill, recipe.seed)
    return list(toxic_folders(recipe, root, toxic_model_key(recipe, texts, root)))


def toxic_model(recipe: Recipe, root: Path) -> tuple[Path, dict[str, Any]]:
    """Stage 1: the cached toxic copy of the base LM (trained now if missing); (folder, info)."""
    settings = recipe.distill
    texts = read_toxic_corpus(settings, recipe.seed)
    key = toxic_model_key(recipe, texts, root)
    folder, checkpoints = toxic_folders(recipe, root, key)
    if (folder / "train_log.json").exists():
        return folder, {**summary_only(read_json(folder / "train_log.json")), "cached": True}
    model, tokenizer, log = fine_tune(recipe.models.generator, texts, settings.toxic_model, root=root,
                                      seed=recipe.seed, checkpoints=checkpoints)
    if settings.toxic_model.method == "lora":
        model = model.merge_and_unload()
    info = {**log_summary(log, len(texts)), "fingerprint": key, "base": describe(recipe.models.generator, root)}
    save_model(model, tokenizer, folder, info, log.losses)
    return folder, {**info, "cached": False}


def distil_texts(recipe: Recipe, toxic_dir: Path, root: Path, num_texts: int) -> list[str]:
    """Stage 2: `num_texts` contrastive samples from a BOS-only prompt."""
    settings = recipe.distill
    base, tokenizer = load_causal_lm(recipe.models.generator, root)
    toxic, _ = load_causal_lm(str(toxic_dir), root)
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if bos is None:
        raise FactoryError(f"models.generator: {recipe.models.generator.ref} has neither a BOS nor an EOS token")
    device = default_device()
    with progress(total=num_texts, desc="generate: contrastive decoding", unit="text") as bar:
        ids = contrastive_generate(base.to(device).eval(), toxic.to(device).eval(), bos_id=bos,
                                   eos_id=tokenizer.eos_token_id, num_texts=num_texts, max_length=settings.max_length,
                                   batch_size=settings.batch_size, seed=settings.seed,
                                   settings=decoding_settings(settings),
                                   progress=lambda done: bar.update(done - bar.done))
    return [tokenizer.decode(t, skip_special_tokens=True).strip() for t in ids]


def decoding_settings(settings: Distill) -> ContrastiveSettings:
    """The decoding knobs of a recipe."""
    return ContrastiveSettings(alpha=settings.alpha, top_k=settings.top_k, top_p=settings.top_p)


def to_records(recipe: Recipe, texts: list[str]) -> list[Record]:
    """One text row per sample; empty samples are kept as dropped rows (`empty`)."""
    records = []
    for index, text in enumerate(texts):
        record = Record.make("text", lang=recipe.human.lang, text=text, source="synthetic:distill",
                             recipe=recipe.name, split="train", group=content_id("distill", str(index)))
        record.attributes = {"synthetic_side": "neutral", "index": index, "words": len(text.split())}
        records.append(record.drop("empty") if not text else record)
    return records


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/generated/<recipe>/rows.parquet and stats.json (settings, toxic model, outcomes)."""
    settings = recipe.distill
    toxic_dir, toxic_info = toxic_model(recipe, root)
    num_texts = min(limit, settings.num_texts) if limit else settings.num_texts
    records = to_records(recipe, distil_texts(recipe, toxic_dir, root, num_texts))
    extra_cuts = {k: v for k, v in (("top_k", settings.top_k), ("top_p", settings.top_p)) if v not in (0, 1.0)}
    stats = {"rows": len(records), "outcomes": dict(Counter(r.drop_reason or "kept" for r in records)),
             "backend": {"backend": "transformers-contrastive", "model": describe(recipe.models.generator, root),
                         "kv_caches": "one per model"},
             "decoding": {"alpha": settings.alpha, "max_length": settings.max_length, "prompt": "BOS only",
                          "seed": settings.seed, "batch_size": settings.batch_size,
                          "extra_cuts": extra_cuts or "off"},
             "toxic_model": toxic_info}
    out = Layout(root).generated(recipe.name)
    with atomic_dir(out) as tmp:
        write_records(tmp / "rows.parquet", records)
        write_json(tmp / "stats.json", stats)
    return out
