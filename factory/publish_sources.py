"""What a release comes from, on its card: source datasets, licences and the papers to cite.

BibTeX entries carry only fields checked against the publishers' pages (ACL Anthology,
arXiv); where the peer-reviewed venue of a preprint is not recorded here, the entry says so
in `note` instead of guessing.
"""

from __future__ import annotations

from pathlib import Path

from factory.kinds import kind_of
from factory.recipe import Recipe
from factory.recipe.base import looks_like_path


PARADETOX = """@inproceedings{logacheva-etal-2022-paradetox,
  title = {{ParaDetox}: Detoxification with Parallel Data},
  author = {Logacheva, Varvara and Dementieva, Daryna and Ustyantsev, Sergey and Moskovskiy, Daniil and
            Dale, David and Krotova, Irina and Semenov, Nikita and Panchenko, Alexander},
  booktitle = {Proceedings of the 60th Annual Meeting of the Association for Computational Linguistics
               (Volume 1: Long Papers)},
  year = {2022},
  address = {Dublin, Ireland},
  publisher = {Association for Computational Linguistics},
  pages = {6804--6818},
  url = {https://aclanthology.org/2022.acl-long.469},
}"""

METHOD_CITATIONS = {
    "toxify": """@misc{pletenev-etal-2025-lessons,
  title = {{<think>} So let's replace this phrase with insult... {</think>} Lessons learned from generation of
           toxic texts with {LLMs}},
  author = {Pletenev, Sergey and Moskovskiy, Daniil and Panchenko, Alexander},
  year = {2025},
  eprint = {2509.08358},
  archivePrefix = {arXiv},
  note = {arXiv preprint; a peer-reviewed venue, if any, is not recorded here},
}""",
    "detoxify": """@inproceedings{moskovskiy-etal-2024-llms,
  title = {{LLMs} to Replace Crowdsourcing For Parallel Data Creation? The Case of Text Detoxification},
  author = {Moskovskiy, Daniil and Pletenev, Sergey and Panchenko, Alexander},
  booktitle = {Findings of the Association for Computational Linguistics: EMNLP 2024},
  year = {2024},
  address = {Miami, Florida, USA},
  publisher = {Association for Computational Linguistics},
  pages = {14361--14373},
  doi = {10.18653/v1/2024.findings-emnlp.839},
  url = {https://aclanthology.org/2024.findings-emnlp.839},
}""",
    "distill": """@inproceedings{lu-etal-2025-unidetox,
  title = {{UniDetox}: Universal Detoxification of Large Language Models via Dataset Distillation},
  author = {Lu, Huimin and Isonuma, Masaru and Mori, Junichiro and Sakata, Ichiro},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2025},
  eprint = {2504.20500},
  archivePrefix = {arXiv},
}""",
    "selfgen": """@inproceedings{wang-etal-2022-exploring,
  title = {Exploring the Limits of Domain-Adaptive Training for Detoxifying Large-Scale Language Models},
  author = {Wang, Boxin and Ping, Wei and Xiao, Chaowei and Xu, Peng and Patwary, Mostofa and Shoeybi, Mohammad and
            Li, Bo and Anandkumar, Anima and Catanzaro, Bryan},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2022},
  eprint = {2202.04173},
  archivePrefix = {arXiv},
}""",
    "translate": """@misc{beniwal-etal-2025-breaking,
  title = {Breaking {mBad}! Supervised Fine-tuning for Cross-Lingual Detoxification},
  author = {Beniwal, Himanshu and Kim, Youngwoo and Sap, Maarten and Dan, Soham and Hartvigsen, Thomas},
  year = {2025},
  eprint = {2505.16722},
  archivePrefix = {arXiv},
  note = {arXiv preprint; a peer-reviewed venue, if any, is not recorded here},
}""",
}
"""BibTeX of the paper each recipe kind implements."""

DATA_CITATIONS = {"s-nlp/paradetox": PARADETOX}
"""BibTeX of human data sources, by Hub id."""

METHOD_NAMES = {
    "toxify": "synthetic toxic sides for human neutral sentences (Pletenev et al. 2025)",
    "detoxify": "synthetic neutral sides for human toxic sentences, PseudoParaDetox (Moskovskiy et al. 2024)",
    "distill": "detoxifying text distilled by contrastive decoding, UniDetox (Lu et al., ICLR 2025)",
    "selfgen": "self-generated text, least toxic share kept, SGEAT (Wang et al., NeurIPS 2022)",
    "translate": "detoxification pairs carried into other languages, Breaking mBad (Beniwal et al. 2025)",
}


def is_hub_id(source: str | None) -> bool:
    """True for `org/name` (a Hub dataset id), False for keywords (`seed`, `fixture`) and local paths."""
    return bool(source) and source.count("/") == 1 and not looks_like_path(source) and not Path(source).exists()


def carried_sources(recipe: Recipe) -> list[str]:
    """The data sources whose text the release's rows carry (Hub ids, keywords or paths)."""
    if not kind_of(recipe).PAIRS:  # rows carry human text: the side that was not generated, or human pairs
        return []
    parallel = recipe.translate.parallel if recipe.translate else None
    return list(dict.fromkeys(s for s in (recipe.human.source, parallel) if s))


def source_datasets(recipe: Recipe) -> list[str]:
    """The card's `source_datasets`: the Hub ids of the data whose text the release carries."""
    return [source for source in carried_sources(recipe) if is_hub_id(source)]


BUNDLED = {"seed": "the project's seed corpus, factory/data/seed",
           "fixture": "the project's multilingual fixture, factory/data/multilingual"}
"""Keyword sources that ship with the project."""

CARRIED_ROLE = {
    "toxify": "human pairs: the rows' neutral sides are theirs (the toxic sides were generated from them)",
    "detoxify": "human pairs: the rows' toxic sides are theirs (the neutral sides were generated from them)",
    "translate": "human pairs the generator translated (rows with `attributes.translated` true)",
}


def _named(source: str) -> str:
    return f"`{source}` ({BUNDLED[source]})" if source in BUNDLED else f"`{source}`"


def source_lines(recipe: Recipe) -> list[str]:
    """Markdown bullets naming every data source of the release and its role."""
    lines = []
    pairs = kind_of(recipe).PAIRS
    if pairs:
        lines.append(f"- {_named(recipe.human.source)}: {CARRIED_ROLE[recipe.kind]}.")
    if recipe.translate and recipe.translate.parallel:
        lines.append(f"- {_named(recipe.translate.parallel)}: human pairs in the target languages, read as they are "
                     "(rows with `attributes.translated` false).")
    if kind_of(recipe).STUDY == "lm":
        lines.append("- Every text was generated by `models.generator`; no human text is in the rows.")
    if recipe.distill is not None:
        lines.append(f"- {_named(recipe.distill.toxic_corpus)}: toxic text the toxic copy of the generator was "
                     "fine-tuned on (contrastive decoding steers away from it); none of it is in the rows.")
    lines.append(f"- {_named(recipe.human.source)}: its held-out test split is what contamination is checked "
                 f"against{' and the reference detoxifiers are evaluated on' if pairs else ''}; "
                 "no test row is in the release.")
    return lines


def license_parts(recipe: Recipe) -> list[tuple[str, str]]:
    """(licence id, what it covers) for the release, its human text and its generator's outputs."""
    publish = recipe.publish
    unknown = " (licence not recorded in the recipe: check the {})"
    parts = [(publish.license, "this release")]
    if carried_sources(recipe):
        parts.append((publish.human_license or "other",
                      "the human text it carries" + ("" if publish.human_license else unknown.format("source"))))
    if recipe.models.generator is not None:
        patched = f" (`{recipe.abliterate.model.ref}`, activation-patched)" if recipe.abliterate else ""
        parts.append((publish.generator_license or "other", f"outputs of `{recipe.models.generator.ref}`{patched}"
                      + ("" if publish.generator_license else unknown.format("model"))))
    return parts


def license_ids(recipe: Recipe) -> list[str]:
    """The card's `license` list: every licence of `license_parts`, once, in order."""
    return list(dict.fromkeys(license_id for license_id, _ in license_parts(recipe)))


def citations(recipe: Recipe) -> list[str]:
    """BibTeX of the method's paper and of the human data the rows carry, where known."""
    known = [METHOD_CITATIONS[recipe.kind]]
    known += [DATA_CITATIONS[s] for s in carried_sources(recipe) if s in DATA_CITATIONS]
    return known
