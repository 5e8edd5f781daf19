"""Text for the miniature tokenizers and the miniature Hub datasets.

The datasets keep the Hub's repo ids, configs, splits and column names with a few dozen rows:
the real rows from `../shared/data` where that folder exists (read, never committed), else the
project's own seed sentences (factory/data) and a few sentences per language written here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
LANGUAGES = ("am", "ar", "de", "en", "es", "hi", "ru", "uk", "zh")

OWN_SENTENCES = {
    "am": ("ይህ በጣም ደደብ ሀሳብ ነው።", "ይህ ሀሳብ ጥሩ አይመስለኝም።", "ዝም በል አንተ ሞኝ።", "እባክህ ትንሽ ተረጋጋ።"),
    "ar": ("هذا أغبى رأي سمعته اليوم.", "لا أتفق مع هذا الرأي.", "اسكت يا غبي.", "من فضلك كن هادئا."),
    "hi": ("यह सबसे बेवकूफ़ी भरा विचार है।", "मैं इस विचार से सहमत नहीं हूँ।", "चुप रहो मूर्ख।", "कृपया शांत रहें।"),
    "ru": ("Это самая тупая идея на свете.", "Я не согласен с этой идеей.", "Заткнись, идиот.",
           "Пожалуйста, успокойтесь."),
    "uk": ("Це найдурніша ідея у світі.", "Я не згоден з цією ідеєю.", "Замовкни, дурню.", "Будь ласка, заспокойтеся."),
    "zh": ("这是我听过最蠢的主意。", "我不同意这个想法。", "闭嘴，你这个白痴。", "请冷静一点。"),
}
"""Toxic/neutral sentence pairs per language (toxic, neutral, toxic, neutral) written for this project."""


def seed_pairs() -> list[tuple[str, str]]:
    """The project's own English (toxic, neutral) pairs."""
    with (PACKAGE_DATA / "seed" / "pairs.tsv").open(encoding="utf-8") as handle:
        return [(row["toxic"], row["neutral"]) for row in csv.DictReader(handle, delimiter="\t")]


def _own_language_pairs(lang: str) -> list[tuple[str, str]]:
    if lang == "en":
        return seed_pairs()
    folder = PACKAGE_DATA / "multilingual"
    if (folder / f"{lang}_train_toxic.csv").exists():
        return _csv_pairs(folder, lang)
    base = OWN_SENTENCES[lang]
    return [(f"{base[i % 2 * 2]} ({n})", f"{base[i % 2 * 2 + 1]} ({n})") for n in range(1, 21) for i in range(2)]


def _csv_pairs(folder: Path, lang: str) -> list[tuple[str, str]]:
    def column(kind: str) -> list[str]:
        with (folder / f"{lang}_train_{kind}.csv").open(encoding="utf-8") as handle:
            return [row[0] for row in csv.reader(handle) if row]

    return list(zip(column("toxic"), column("neutral")))


def language_pairs(lang: str, shared: Path | None) -> list[tuple[str, str]]:
    """(toxic, neutral) pairs of one language: real rows from `shared` when present, else the project's own."""
    if shared is not None and (shared / "multilingual_paradetox" / f"{lang}_train_toxic.csv").exists():
        return _csv_pairs(shared / "multilingual_paradetox", lang)
    return _own_language_pairs(lang)


def paradetox_pairs(shared: Path | None, limit: int) -> list[tuple[str, str]]:
    """English ParaDetox (toxic, neutral) rows, one paraphrase per row as on the Hub."""
    path = shared / "paradetox" / "paradetox.tsv" if shared else None
    if path is None or not path.exists():
        return seed_pairs()[:limit]
    pairs: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quotechar='"'):
            pairs += [(row["toxic"], row[c]) for c in ("neutral1", "neutral2", "neutral3") if row.get(c)]
            if len(pairs) >= limit:
                break
    return pairs[:limit]


def tokenizer_corpus() -> list[str]:
    """Deterministic training text of the miniature tokenizers (the project's own sentences only)."""
    lines = [text for pair in seed_pairs() for text in pair]
    for lang in LANGUAGES:
        lines += [text for pair in _own_language_pairs(lang)[:40] for text in pair]
    lines += [line for name in ("toxic.txt", "neutral.txt") for line in
              (PACKAGE_DATA / "seed" / name).read_text(encoding="utf-8").splitlines()]
    return lines


def _parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _readme(folder: Path, configs: dict[str, dict[str, str]]) -> None:
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {path}" for split, path in splits.items()]
    (folder / "README.md").write_text("\n".join([*lines, "---", "", "Miniature for the rehearsal.", ""]))


def paradetox(folder: Path, shared: Path | None) -> None:
    """s-nlp/paradetox: one `train` split, columns en_toxic_comment, en_neutral_comment."""
    rows = [{"en_toxic_comment": t, "en_neutral_comment": n} for t, n in paradetox_pairs(shared, 120)]
    _parquet(folder / "data" / "train-00000-of-00001.parquet", rows)
    _readme(folder, {"default": {"train": "data/train-*"}})


def multilingual_paradetox(folder: Path, shared: Path | None) -> None:
    """textdetox/multilingual_paradetox: one split per language, columns toxic_sentence, neutral_sentence."""
    for lang in LANGUAGES:
        rows = [{"toxic_sentence": t, "neutral_sentence": n} for t, n in language_pairs(lang, shared)[:40]]
        _parquet(folder / "data" / f"{lang}-00000-of-00001.parquet", rows)
    _readme(folder, {"default": {lang: f"data/{lang}-*" for lang in LANGUAGES}})


TOXIGEN_GROUPS = ("asian", "black", "chinese", "jewish", "latino", "lgbtq", "mental_dis", "mexican",
                  "middle_east", "muslim", "native_american", "physical_dis", "women")


def _toxigen_rows(texts: list[str], offset: int) -> Iterator[dict[str, Any]]:
    for i, text in enumerate(texts):
        group = TOXIGEN_GROUPS[(i + offset) % len(TOXIGEN_GROUPS)]
        yield {"text": text, "target_group": group, "factual?": "neither factual nor opinion",
               "ingroup_effect": "doesn't use in-group language", "lewd": "doesn't contain lewd content",
               "framing": "disagreement", "predicted_group": f"the text directly references {group}",
               "stereotyping": "doesn't use positive stereotyping", "intent": float(1 + i % 5),
               "toxicity_ai": float(1 + (i * 3) % 5), "toxicity_human": float(1 + (i * 2) % 5),
               "predicted_author": "human" if i % 3 else "ai", "actual_method": "topk" if i % 2 else "cbs"}


def toxigen(folder: Path, shared: Path | None) -> None:
    """toxigen/toxigen-data, config `annotated` (train, test splits) with its 13 columns."""
    texts = [text for pair in seed_pairs()[:60] for text in pair]
    _parquet(folder / "annotated" / "train-00000-of-00001.parquet", list(_toxigen_rows(texts[:80], 0)))
    _parquet(folder / "annotated" / "test-00000-of-00001.parquet", list(_toxigen_rows(texts[80:120], 5)))
    _readme(folder, {"annotated": {"train": "annotated/train-*", "test": "annotated/test-*"}})


DGHS_TARGETS = ("wom", "bla", "jew", "mus", "trans", "gay", "immig", "asi", "arab", "dis", "notgiven", "none")


def dghs(folder: Path, shared: Path | None) -> None:
    """LennardZuendorf/Dynamically-Generated-Hate-Speech-Dataset: one `train` split with the DGHS columns."""
    rows = []
    for i, (toxic, neutral) in enumerate(seed_pairs()[:60]):
        for j, (text, label) in enumerate(((toxic, "hate"), (neutral, "nothate"))):
            n = 2 * i + j
            rows.append({"acl.id": f"acl{n + 1}", "X1": n + 1, "text": text, "label": label,
                         "type": "notgiven" if label == "nothate" else "derogation",
                         "target": "none" if label == "nothate" else DGHS_TARGETS[i % len(DGHS_TARGETS)],
                         "level": "original", "split": ("train", "dev", "test")[0 if i % 5 else (i // 5) % 3],
                         "round.base": 1 + i % 4, "annotator": "GNZuCtwed3", "round": f"{1 + i % 4}",
                         "acl.id.test": None})
    _parquet(folder / "data" / "train-00000-of-00001.parquet", rows)
    _readme(folder, {"default": {"train": "data/train-*"}})


RTP_ATTRIBUTES = ("profanity", "sexually_explicit", "identity_attack", "flirtation", "threat", "insult",
                  "severe_toxicity", "toxicity")
"""Perspective attributes of each RealToxicityPrompts half, in the dataset's order (after `text`)."""


def _rtp_half(text: str, toxicity: float | None) -> dict[str, Any]:
    scores = {name: None if toxicity is None else round(toxicity * (0.5 + 0.05 * i), 6)
              for i, name in enumerate(RTP_ATTRIBUTES[:-1])}
    return {"text": text, **scores, "toxicity": toxicity}


def real_toxicity_prompts(folder: Path, shared: Path | None) -> None:
    """allenai/real-toxicity-prompts: `prompts.jsonl`, one `train` split, columns filename, begin, end,
    challenging and the structs `prompt` / `continuation` (text and Perspective scores, some null)."""
    lines = []
    for i, (toxic, neutral) in enumerate(seed_pairs()[:30]):
        for j, (text, toxicity) in enumerate(((toxic, 0.62 + 0.01 * (i % 30)), (neutral, 0.04 + 0.01 * (i % 40)))):
            words = text.split()
            cut = max(1, len(words) // 2)
            score = None if (2 * i + j) % 13 == 5 else toxicity
            lines.append(json.dumps({
                "filename": f"{2 * i + j:07d}-{i:032x}.txt", "begin": 10 * i, "end": 10 * i + len(text),
                "challenging": bool(score and score > 0.6 and i % 4 == 0),
                "prompt": _rtp_half(" ".join(words[:cut]), score),
                "continuation": _rtp_half(" " + " ".join(words[cut:]), toxicity / 2)}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _readme(folder, {"default": {"train": "prompts.jsonl"}})


DATASETS = {
    "s-nlp/paradetox": paradetox,
    "textdetox/multilingual_paradetox": multilingual_paradetox,
    "toxigen/toxigen-data": toxigen,
    "LennardZuendorf/Dynamically-Generated-Hate-Speech-Dataset": dghs,
    "allenai/real-toxicity-prompts": real_toxicity_prompts,
}
"""Every Hub dataset the full recipes name, and the function that writes its miniature."""


def manifest_entry(rows: int) -> str:
    """A JSON line for the build manifest."""
    return json.dumps({"rows": rows})
