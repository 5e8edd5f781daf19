"""Typed reports: the JSON files one stage writes and a later stage reads.

Each model lists the keys its readers rely on; `read` validates the file and fails on a
missing or mistyped key with one line naming the file, the key and the stage that writes it
(so a renamed key is an error, not a gate that silently reads `None`). Numbers are typed
`int | float` so that validation never turns a written `0` into `0.0`; `raw` is the file as
written, which readers pass on unchanged (the certificate copies from it).

- `FilterReport`, `PairFilterReport`: data/filtered/<recipe>/report.json (filter; read by mix, certify)
- `EvalMetrics`: data/eval/<recipe>/metrics.json (evaluate; read by certify)
- `HumanStats`: data/human/<recipe>/stats.json (ingest; read by certify)
- `MixManifest`: data/mixed/<recipe>/manifest.json (mix; read by train, certify)
- `Certificate`: data/certify/<recipe>/certificate.json (certify; read by report, publish, `factory run`)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Optional, TypeVar, Union

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from factory.core.errors import FactoryError
from factory.core.records import read_json

Number = Union[int, float]
T = TypeVar("T", bound="StageReport")


class StageReport(BaseModel):
    """A stage's JSON report: the keys its readers need are fields; other keys are kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True)
    WRITER: ClassVar[str] = ""
    """The `factory` command that writes the file (named in errors)."""
    _raw: dict = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """The file's content as written."""
        return self._raw

    @classmethod
    def parse(cls: type[T], data: Any, path: Union[str, Path]) -> T:
        """Validate `data` (read from `path`); FactoryError naming the first bad key."""
        try:
            report = cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problem = "missing" if error["type"] == "missing" else error["msg"]
            raise FactoryError(f"{path}: {where}: {problem} (written by `factory {cls.WRITER}`; re-run it)") from None
        report._raw = data
        return report

    @classmethod
    def read(cls: type[T], path: Union[str, Path]) -> T:
        """Read and validate the report at `path` (missing file: `factory.core.records.read_json`'s error)."""
        return cls.parse(read_json(Path(path)), path)


class Diversity(BaseModel):
    """Diversity of one side of the corpus (`factory.filter.diversity.corpus_report`)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    distinct_2: Number


class FilterReport(StageReport):
    """data/filtered/<recipe>/report.json: the keys every kind's certification reads."""

    WRITER: ClassVar[str] = "filter"
    kept: int
    contamination: int
    leaking_human_ids: list[str] = []
    """Human train rows near-duplicating a test row (the mix leaves them out; absent: none)."""


class PairFilterReport(FilterReport):
    """The filter report as the gates of pair kinds read it (rates, leakage, diversity of both sides)."""

    near_dup_rate: Number
    refusal_rate: Number
    copy_rate: Number
    train_test_leakage: int
    distinct2_ratio: Number
    synthetic: Diversity
    human: Diversity


class EvalMetrics(StageReport):
    """data/eval/<recipe>/metrics.json: every system's scores (`definition` and `scores` go into the certificate
    as written, `None` when absent: LM kinds write no `scores`)."""

    WRITER: ClassVar[str] = "evaluate"
    systems: dict[str, dict[str, Any]]
    definition: Optional[str] = None
    scores: Optional[str] = None


class HumanStats(StageReport):
    """data/human/<recipe>/stats.json (`test`: human test rows, a gate of pair kinds)."""

    WRITER: ClassVar[str] = "ingest"
    test: Optional[int] = None


class MixManifest(StageReport):
    """data/mixed/<recipe>/manifest.json: one entry per training mix."""

    WRITER: ClassVar[str] = "mix"
    mixes: list[dict[str, Any]]


class GateRecord(BaseModel):
    """One gate of a certificate (`factory.core.gates.Gate` as written)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    value: Any
    passed: bool


class Certificate(StageReport):
    """data/certify/<recipe>/certificate.json (`verdict` and `reason`: absent in certificates of older versions,
    read through `factory.core.gates.recorded_verdict`)."""

    WRITER: ClassVar[str] = "certify"
    recipe: str
    certified: bool
    gates: list[GateRecord]
    verdict: Optional[str] = None
    reason: Optional[str] = None
