"""`factory abliterate RECIPE`: patch a recipe's generator as its `abliterate` section says, measuring refusals.

1. Direction prompts: `num_prompts` toxic and neutral sentences (by default the two sides of a
   seeded choice of human train pairs), each `prefix` + sentence as the user turn under the
   recipe's generation system prompt. Every decoder layer's output at token `position` gives
   one unit difference-of-means direction per layer (factory.models.abliterate_reference).
2. Held-out prompts: `heldout_prompts` rewrite inputs of the human train split that no direction
   prompt used, each under the recipe's full prompt (system prompt and few-shot examples, as
   `generate` builds it). Greedy replies of `max_new_tokens`, cut at `generate.sampling.stop`, are
   counted as refusals with
   `factory.checks.is_refusal(reply, input)`, before any edit and after each candidate edit.
3. Candidates: `edit: reference` has one (every listed layer edited with its own direction, as
   the notebook); `edit: project` has one per candidate layer (that layer's direction removed
   from every output projection). The candidate with the fewest refusals is kept (ties: the
   layer nearest the middle, then the lower).
4. The patched model, its tokenizer, `refusal_directions.pt` (layers x d_model) and
   `abliteration.json` (settings, refusal rate before and after, every candidate's rate, a few
   replies) are written atomically to <root>/models/abliterated/<recipe> (or `--out`).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from factory.checks import is_refusal
from factory.core.errors import FactoryError
from factory.models.abliterate import abliterate_folder, orthogonalise, output_projections, refusal_directions
from factory.models.abliterate_reference import block_projections, decoder_blocks, position_activations, reference_edit
from factory.models.backends.base import cut_at_stop, render_prompt
from factory.prompts import DEFAULT_SYSTEM, rewrite_messages
from factory.recipe import Recipe
from factory.recipe.abliterate import REFERENCE_FIRST_EDITED, Abliterate
from factory.core.outputs import check_replaceable
from factory.core.records import Record, atomic_dir, read_records, write_json
from factory.core.layout import Layout

MAKER = "factory abliterate"
"""The maker named in the `.factory-made` marker of a patched model folder (as the MODEL form writes)."""

EXAMPLES = 5
"""Held-out replies (before and after) kept in abliteration.json."""


@dataclass(frozen=True)
class Plan:
    """One candidate edit: the layers edited, and for `project` the layer whose direction is removed."""

    layers: tuple[int, ...]
    source_layer: int | None = None


def _side(settings: Abliterate, name: str, default: list[str]) -> tuple[list[str], dict[str, Any]]:
    spec = getattr(settings, f"{name}_source")
    if spec is None:
        return default, {"source": f"human train split, {name} side", "count": len(default)}
    from factory.text_sources import read_texts

    texts, skipped = read_texts(spec, f"abliterate.{name}_source")
    if len(texts) < settings.num_prompts:
        raise FactoryError(f"abliterate.num_prompts: {settings.num_prompts} asked, abliterate.{name}_source "
                           f"{spec.source} has {len(texts)} non-empty texts")
    chosen = texts[: settings.num_prompts]
    return chosen, {"source": spec.source, "hub_split": spec.hub_split, "column": spec.column,
                    "count": len(chosen), "skipped": skipped}


def direction_sentences(recipe: Recipe, train: Sequence[Record]) -> tuple[list[str], list[str], dict[str, Any]]:
    """(toxic sentences, neutral sentences, where they came from) for the directions."""
    settings = _settings(recipe)
    by_toxic: dict[str, str] = {}
    for record in train:
        if record.toxic and record.neutral:
            by_toxic.setdefault(record.toxic, record.neutral)
    pairs = sorted(by_toxic.items())
    random.Random(recipe.seed).shuffle(pairs)
    needs_train = settings.toxic_source is None or settings.neutral_source is None
    if needs_train and len(pairs) < settings.num_prompts:
        raise FactoryError(f"abliterate.num_prompts: {settings.num_prompts} asked, the human train split of "
                           f"{recipe.name} has {len(pairs)} toxic sentences")
    chosen = pairs[: settings.num_prompts]
    toxic, toxic_from = _side(settings, "toxic", [t for t, _ in chosen])
    neutral, neutral_from = _side(settings, "neutral", [n for _, n in chosen])
    return toxic, neutral, {"toxic": toxic_from, "neutral": neutral_from}


def heldout_inputs(recipe: Recipe, train: Sequence[Record], used: set[str]) -> list[str]:
    """Rewrite inputs of the human train split that no direction prompt used, in `generate`'s seeded order."""
    from factory.generate.rewrite import select_inputs

    settings = _settings(recipe)
    inputs = [text for text in select_inputs(train, recipe.kind, recipe.seed, None) if text not in used]
    if len(inputs) < settings.heldout_prompts:
        raise FactoryError(f"abliterate.heldout_prompts: {settings.heldout_prompts} asked, the human train split of "
                           f"{recipe.name} has {len(inputs)} inputs not used for the directions")
    return inputs[: settings.heldout_prompts]


def system_prompt(recipe: Recipe) -> str:
    """The generation system prompt: `generate.prompt.system`, or the kind's default."""
    return recipe.generate.prompt.system or DEFAULT_SYSTEM[recipe.kind]


def rewrite_conversations(recipe: Recipe, inputs: Sequence[str], pool: Sequence[Record]) -> list[list[dict]]:
    """The chat messages `generate` would send for `inputs` (same system prompt and few-shot examples)."""
    from factory.generate.rewrite import few_shot_examples

    prompt = recipe.generate.prompt
    return [rewrite_messages(recipe.kind, text, few_shot_examples(pool, recipe.kind, text, prompt.few_shot,
                                                                   prompt.few_shot_seed, prompt.few_shot_choice),
                             prompt.system)
            for text in inputs]


def greedy_replies(model: Any, tokenizer: Any, conversations: Sequence[Sequence[dict]], max_new_tokens: int,
                   batch_size: int, stop: Sequence[str] = ()) -> list[str]:
    """Greedy replies to `conversations`, in batches of left-padded prompts, cut at the first `stop` string."""
    import torch

    replies: list[str] = []
    for start in range(0, len(conversations), batch_size):
        prompts = [render_prompt(tokenizer, messages) for messages in conversations[start : start + batch_size]]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, temperature=None,
                                 top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        replies += [cut_at_stop(text, stop).strip() for text in texts]
    return replies


def candidate_plans(settings: Abliterate, layer_count: int) -> list[Plan]:
    """The candidate edits of `settings` for a model with `layer_count` decoder layers."""
    layers = settings.layers
    if layers is None and settings.edit == "reference":
        layers = list(range(REFERENCE_FIRST_EDITED, layer_count))
        if not layers:
            raise FactoryError(f"abliterate.layers: the model has {layer_count} decoder layers and the reference "
                               f"edits layers {REFERENCE_FIRST_EDITED}..L-1, none here; list the layers to edit")
    layers = sorted(set(range(layer_count) if layers is None else layers))
    if layers[-1] >= layer_count:
        raise FactoryError(f"abliterate.layers: layer {layers[-1]} does not exist (the model has {layer_count} "
                           f"decoder layers, 0..{layer_count - 1})")
    if settings.edit == "reference":
        return [Plan(tuple(layers))]
    return [Plan(tuple(range(layer_count)), source_layer=layer) for layer in layers]


def apply_plan(model: Any, plan: Plan, directions: Any, edit: str) -> list[str]:
    """Edit `model` in place as `plan` says; return the names of the edited modules."""
    if edit == "reference":
        return reference_edit(model, {layer: directions[layer] for layer in plan.layers})
    names = {id(module): name for name, module in model.named_modules()}
    modules = output_projections(model)
    for module in modules:
        orthogonalise(module, directions[plan.source_layer])
    return [names[id(module)] for module in modules]


def _touched(model: Any, plan: Plan, edit: str) -> list[Any]:
    if edit == "project":
        return output_projections(model)
    blocks = decoder_blocks(model)
    return [module for layer in plan.layers for module in block_projections(blocks[layer], layer)]


@contextlib.contextmanager
def patched(model: Any, plan: Plan, directions: Any, edit: str) -> Iterator[None]:
    """Apply `plan` for the duration of the block, then restore every parameter it touched."""
    saved = [(p, p.detach().to("cpu", copy=True)) for m in _touched(model, plan, edit) for p in m.parameters()]
    try:
        apply_plan(model, plan, directions, edit)
        yield
    finally:
        for parameter, value in saved:
            parameter.data.copy_(value)


def choose(plans: Sequence[Plan], refusals: Sequence[int], layer_count: int) -> int:
    """Index of the plan with the fewest refusals; ties: source layer nearest the middle, then the lower."""
    middle = layer_count // 2

    def key(i: int) -> tuple[int, int, int]:
        layer = plans[i].source_layer
        return refusals[i], 0 if layer is None else abs(layer - middle), i

    return min(range(len(plans)), key=key)


def _settings(recipe: Recipe) -> Abliterate:
    if recipe.abliterate is None:
        raise FactoryError(f"abliterate: recipe {recipe.name} has no `abliterate` section (add one, or patch a model "
                           "with `factory abliterate MODEL --out DIR`)")
    return recipe.abliterate


def _measure(model: Any, tokenizer: Any, recipe: Recipe, conversations: list, inputs: list[str]
             ) -> tuple[list[str], int]:
    settings, stop = _settings(recipe), recipe.generate.sampling.stop
    replies = greedy_replies(model, tokenizer, conversations, settings.max_new_tokens, settings.batch_size, stop)
    return replies, sum(is_refusal(reply, source) for reply, source in zip(replies, inputs))


def _report(recipe: Recipe, sources: dict, inputs: list[str], plans: list[Plan], counts: list[int],
            best: int, before: tuple[list[str], int], after: list[str], edited: list[str]) -> dict[str, Any]:
    from factory.models.loading import describe

    settings, n = _settings(recipe), len(inputs)
    return {
        "recipe": recipe.name, "model": describe(settings.model), "edit": settings.edit,
        "position": settings.position, "prefix": settings.prefix, "system_prompt": system_prompt(recipe),
        "direction_prompts": sources,
        "heldout": {"prompts": n, "max_new_tokens": settings.max_new_tokens, "decoding": "greedy",
                    "stop": recipe.generate.sampling.stop,
                    "few_shot": recipe.generate.prompt.few_shot, "refusal_check": "factory.checks.is_refusal"},
        "candidates": [{"layers": list(p.layers), "direction_layer": p.source_layer, "refusals": c,
                        "refusal_rate": c / n} for p, c in zip(plans, counts)],
        "chosen": {"layers": list(plans[best].layers), "direction_layer": plans[best].source_layer},
        "refusals_before": before[1], "refusal_rate_before": before[1] / n,
        "refusals_after": counts[best], "refusal_rate_after": counts[best] / n,
        "edited_modules": edited,
        "examples": [{"input": text, "before": b, "after": a} for text, b, a in
                     list(zip(inputs, before[0], after))[:EXAMPLES]],
    }


def layer_directions(model: Any, tokenizer: Any, recipe: Recipe, toxic: Sequence[str], neutral: Sequence[str]) -> Any:
    """(layers, d_model) unit directions: `prefix` + sentence under the generation system prompt, at `position`."""
    settings, system = _settings(recipe), system_prompt(recipe)
    sides = [[[{"role": "system", "content": system}, {"role": "user", "content": settings.prefix + sentence}]
              for sentence in side] for side in (toxic, neutral)]
    return refusal_directions(*(position_activations(model, tokenizer, side, settings.position) for side in sides))


def _save(target: Path, model: Any, tokenizer: Any, directions: Any, report: dict[str, Any], *,
          user_folder: bool = False, overwrite: bool = False) -> Path:
    import torch

    with atomic_dir(target, maker=MAKER, user_folder=user_folder, overwrite=overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(directions.float(), tmp / "refusal_directions.pt")
        write_json(tmp / "abliteration.json", report)
    return target


def run(recipe: Recipe, *, root: Path = Path("data"), out: Path | None = None, overwrite: bool = False) -> Path:
    """Patch `abliterate.model` as the recipe says; write the model and abliteration.json; return the folder.

    A user-named `out` that the factory did not make is refused unless `overwrite` (checked
    before the model loads; see `factory.core.outputs`).
    """
    from factory.generate.rewrite import few_shot_pool
    from factory.models.loading import default_device, load_causal_lm

    settings = _settings(recipe)
    if out is not None:
        check_replaceable(Path(out), maker=MAKER, user_folder=True, overwrite=overwrite, roots=[Path(root)])
    train = read_records(Layout(root).human_split(recipe.name, "train"))
    toxic, neutral, sources = direction_sentences(recipe, train)
    inputs = heldout_inputs(recipe, train, {*toxic, *neutral})
    conversations = rewrite_conversations(recipe, inputs, few_shot_pool(recipe, train)[0])
    model, tokenizer = load_causal_lm(settings.model, root)
    model.to(default_device())
    directions = layer_directions(model, tokenizer, recipe, toxic, neutral)
    plans = candidate_plans(settings, directions.shape[0])
    before = _measure(model, tokenizer, recipe, conversations, inputs)
    results = []
    for plan in plans:
        with patched(model, plan, directions, settings.edit):
            results.append(_measure(model, tokenizer, recipe, conversations, inputs))
    counts = [count for _, count in results]
    best = choose(plans, counts, directions.shape[0])
    edited = apply_plan(model, plans[best], directions, settings.edit)
    report = _report(recipe, sources, inputs, plans, counts, best, before, results[best][0], edited)
    target = Path(out) if out is not None else Layout(root).abliterated(recipe.name)
    return _save(target, model, tokenizer, directions, report, user_folder=out is not None, overwrite=overwrite)


def _recipe_file(target: str) -> Path | None:
    """The recipe file `target` names (a .yaml path, or a name in params.yaml's profile), else None."""
    from factory.recipe import recipe_path

    if Path(target).suffix in (".yaml", ".yml"):
        return Path(target)
    if Path(target).expanduser().exists():
        return None
    try:
        return recipe_path(target)
    except FactoryError:
        return None


def abliterate_target(target: str, out: Path | None, *, layer: int | None = None, root: Path = Path("data"),
                      overwrite: bool = False) -> Path:
    """The CLI: a recipe (file or name) runs `run`; a model (Hub id or folder) with --out runs the MODEL form."""
    from factory.recipe import load_recipe

    recipe_file = _recipe_file(target)
    if recipe_file is not None:
        if layer is not None:
            raise FactoryError("abliterate: --layer is for the MODEL form; a recipe lists abliterate.layers")
        return run(load_recipe(recipe_file), root=root, out=out, overwrite=overwrite)
    if out is None:
        raise FactoryError(f"abliterate: {target!r} is no recipe (no .yaml file, no recipe of that name); to patch "
                           "a model, give --out DIR")
    return abliterate_folder(target, out, layer=layer, overwrite=overwrite)
