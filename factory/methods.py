"""The methods of the recipe kinds as the dataset card names them: name, paper (BibTeX) and what the rows
carry of the human data (moved from factory/publish_sources.py; each kind's `method` reads its entries).

BibTeX entries carry only fields checked against the publishers' pages (ACL Anthology, arXiv);
where the peer-reviewed venue of a preprint is not recorded here, the entry says so in `note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Method:
    """A kind's method on the card: its name, the BibTeX of its paper, the role of the human pairs it carries."""

    name: str
    citation: str
    carried_role: Optional[str] = None


def method_of(kind: str) -> Method:
    """The `Method` of a built-in kind, from the tables below."""
    return Method(METHOD_NAMES[kind], METHOD_CITATIONS[kind], CARRIED_ROLE.get(kind))


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
    "crosslingual": """@misc{beniwal-etal-2025-breaking,
  title = {Breaking {mBad}! Supervised Fine-tuning for Cross-Lingual Detoxification},
  author = {Beniwal, Himanshu and Kim, Youngwoo and Sap, Maarten and Dan, Soham and Hartvigsen, Thomas},
  year = {2025},
  eprint = {2505.16722},
  archivePrefix = {arXiv},
  note = {arXiv preprint; a peer-reviewed venue, if any, is not recorded here},
}""",
}
METHOD_CITATIONS["translate"] = METHOD_CITATIONS["crosslingual"]  # whose languages and human data it extends
"""BibTeX of the paper each recipe kind implements (translate: the factory's own method; it cites the paper
whose nine languages and multilingual ParaDetox data it extends)."""

METHOD_NAMES = {
    "toxify": "synthetic toxic sides for human neutral sentences (Pletenev et al. 2025)",
    "detoxify": "synthetic neutral sides for human toxic sentences, PseudoParaDetox (Moskovskiy et al. 2024)",
    "distill": "detoxifying text distilled by contrastive decoding, UniDetox (Lu et al., ICLR 2025)",
    "selfgen": "self-generated text, least toxic share kept, SGEAT (Wang et al., NeurIPS 2022)",
    "translate": "detoxification pairs carried into other languages by an LLM (this factory's own method; the nine "
                 "languages and human multilingual ParaDetox data of Breaking mBad, Beniwal et al. 2025)",
    "crosslingual": "cross-lingual SFT/DPO detoxification matrices, Breaking mBad (Beniwal et al. 2025)",
}


CARRIED_ROLE = {
    "toxify": "human pairs: the rows' neutral sides are theirs (the toxic sides were generated from them)",
    "detoxify": "human pairs: the rows' toxic sides are theirs (the neutral sides were generated from them)",
    "translate": "human pairs the generator translated (rows with `attributes.translated` true)",
}
