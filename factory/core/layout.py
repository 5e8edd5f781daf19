"""`Layout`: the one place that spells the data folder's paths.

Every stage writes one folder per recipe under the data root (`data/` in the pipeline):

    human/<recipe>/        train.parquet, test.parquet, stats.json          (ingest)
    generated/<recipe>/    rows.parquet (+ test.parquet for translate)      (generate)
    filtered/<recipe>/     rows.parquet, report.json, limit.json            (filter)
    mixed/<recipe>/        ratio-<r>.parquet, manifest.json                 (mix)
    trained/<recipe>/      <mix>/ models, summary.json                      (train)
    eval/<recipe>/         metrics.json, rows.parquet, corpus.parquet, ...  (evaluate)
    certify/<recipe>/      certificate.json, summary.json                   (certify)
    grid/<recipe>/         trained/, cells/, report/                        (grid, translate)
    exports/<recipe>/      sft/, dpo/, seq2seq/, manifest.json              (export)
    report/<recipe>.html, report/index.html, metrics/<recipe>.json          (report)
    release/<recipe>/                                                       (publish --dry-run)
    plots/, models/zoo/, models/abliterated/<recipe>/, cache/<recipe>/ (checkpoints, request caches)

The DVC stage table (`factory.pipeline`) spells the same paths as templates for dvc.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union


@dataclass(frozen=True)
class Layout:
    """The paths under one data root; methods take the recipe name."""

    root: Path = Path("data")

    def __init__(self, root: Union[str, Path, "Layout"] = Path("data")) -> None:
        object.__setattr__(self, "root", root.root if isinstance(root, Layout) else Path(root))

    def human(self, name: str) -> Path:
        """data/human/<recipe>: the human train/test split (ingest)."""
        return self.root / "human" / name

    def human_split(self, name: str, split: str) -> Path:
        """data/human/<recipe>/<split>.parquet."""
        return self.human(name) / f"{split}.parquet"

    def human_stats(self, name: str) -> Path:
        """data/human/<recipe>/stats.json."""
        return self.human(name) / "stats.json"

    def generated(self, name: str) -> Path:
        """data/generated/<recipe>: the synthetic rows (generate)."""
        return self.root / "generated" / name

    def filtered(self, name: str) -> Path:
        """data/filtered/<recipe>: kept and dropped rows and the filter report (filter)."""
        return self.root / "filtered" / name

    def filtered_rows(self, name: str) -> Path:
        """data/filtered/<recipe>/rows.parquet."""
        return self.filtered(name) / "rows.parquet"

    def filter_report(self, name: str) -> Path:
        """data/filtered/<recipe>/report.json."""
        return self.filtered(name) / "report.json"

    def mixed(self, name: str) -> Path:
        """data/mixed/<recipe>: one training set per ratio (mix)."""
        return self.root / "mixed" / name

    def mix_manifest(self, name: str) -> Path:
        """data/mixed/<recipe>/manifest.json."""
        return self.mixed(name) / "manifest.json"

    def trained(self, name: str) -> Path:
        """data/trained/<recipe>: the models of every mix (train)."""
        return self.root / "trained" / name

    def evaluated(self, name: str) -> Path:
        """data/eval/<recipe>: metrics and per-row scores (evaluate)."""
        return self.root / "eval" / name

    def eval_metrics(self, name: str) -> Path:
        """data/eval/<recipe>/metrics.json."""
        return self.evaluated(name) / "metrics.json"

    def eval_rows(self, name: str) -> Path:
        """data/eval/<recipe>/rows.parquet."""
        return self.evaluated(name) / "rows.parquet"

    def certified(self, name: str) -> Path:
        """data/certify/<recipe>: the certificate (certify)."""
        return self.root / "certify" / name

    def certificate(self, name: str) -> Path:
        """data/certify/<recipe>/certificate.json."""
        return self.certified(name) / "certificate.json"

    def grid(self, name: str) -> Path:
        """data/grid/<recipe>: the cross-lingual grid (translate)."""
        return self.root / "grid" / name

    def exports(self, name: str) -> Path:
        """data/exports/<recipe>: SFT, DPO and seq2seq exports."""
        return self.root / "exports" / name

    def release(self, name: str) -> Path:
        """data/release/<recipe>: the release folder of a dry run (publish)."""
        return self.root / "release" / name

    def report_page(self, name: str) -> Path:
        """data/report/<recipe>.html."""
        return self.root / "report" / f"{name}.html"

    @property
    def report_index(self) -> Path:
        """data/report/index.html."""
        return self.root / "report" / "index.html"

    def metrics(self, name: str) -> Path:
        """data/metrics/<recipe>.json: the numbers-only summary DVC shows."""
        return self.root / "metrics" / f"{name}.json"

    @property
    def plots(self) -> Path:
        """data/plots."""
        return self.root / "plots"

    @property
    def models(self) -> Path:
        """data/models (the zoo, abliterated models)."""
        return self.root / "models"

    @property
    def zoo(self) -> Path:
        """data/models/zoo: the tiny models of the `tiny` profile (`zoo:NAME`)."""
        return self.models / "zoo"

    def abliterated(self, name: str) -> Path:
        """data/models/abliterated/<recipe>: a recipe's activation-patched generator (`abliterated:NAME`)."""
        return self.models / "abliterated" / name

    @property
    def cache_root(self) -> Path:
        """data/cache: checkpoints and request caches, outside DVC outputs."""
        return self.root / "cache"

    def cache(self, name: str) -> Path:
        """data/cache/<recipe>."""
        return self.cache_root / name
