"""Print the README's default-run table from the data/ of a finished run.

    .venv/bin/python scripts/readme_table.py [--root data] [RECIPE ...]

One Markdown row per recipe (default: every recipe in params.yaml): the kept synthetic rows,
the certificate's verdict and its headline figure with the 95% interval: the J ratio
(certified mix over human-only) for toxify, detoxify and translate, the EMT reduction of
the first target LM for distill and selfgen, the all-language SFT toxicity reduction against
zero-shot (`sft/all reduction`, or the first method's) for crosslingual. Paste the output over the table in README.md
("The default run, measured"); tests/test_readme_table.py checks that the README's table has
these columns and recipes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

COLUMNS = ("recipe", "kind", "rows kept", "verdict", "headline (95% interval)")
LABELS = {"certified": "CERTIFIED", "not_certified": "NOT CERTIFIED", "inconclusive": "INCONCLUSIVE"}


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


def _wanted(kind: str) -> Any:
    if kind in ("distill", "selfgen"):
        return lambda name: name.startswith("emt_reduction[")
    if kind == "crosslingual":
        return lambda name: name.endswith("/all reduction")
    return lambda name: name == "j_ratio"


def headline(kind: str, certificate: dict[str, Any]) -> str:
    """The kind's headline gate as `name value [low, high]` ("—" when the certificate lacks it)."""
    wanted = _wanted(kind)
    gate = next((g for g in certificate.get("gates", []) if wanted(str(g.get("name", "")))), None)
    if gate is None:
        return "—"
    low, high = (gate.get("interval") or [None, None])[:2]
    interval = f" [{_figure(low)}, {_figure(high)}]" if low is not None and high is not None else " (no interval)"
    return f"{gate['name']} {_figure(gate.get('value'))}{interval}"


def _train_pairs(root: Path, name: str) -> int | None:
    """Train pairs over every language of a crosslingual recipe's split (None without a split)."""
    from factory.core.records import read_json

    path = root / "crosslingual" / name / "split" / "split.json"
    if not path.is_file():
        return None
    return sum(len(entry.get("train", [])) for entry in read_json(path).get("languages", {}).values())


def table_rows(names: Sequence[str], kinds: dict[str, str], root: Path) -> list[list[str]]:
    """One row per recipe (cells as in `COLUMNS`); a recipe without a certificate says so."""
    from factory.core.records import read_json
    from factory.report_facts import verdict

    rows = []
    for name in names:
        certificate_path = root / "certify" / name / "certificate.json"
        report_path = root / "filtered" / name / "report.json"
        if not certificate_path.is_file():
            rows.append([name, kinds[name], "—", f"no {certificate_path}", "—"])
            continue
        certificate = read_json(certificate_path)
        kept = read_json(report_path).get("kept") if report_path.is_file() else None
        if kinds[name] == "crosslingual":  # no corpus of its own: the rows are the human train pairs
            kept = _train_pairs(root, name)
        rows.append([name, kinds[name], "—" if kept is None else str(kept), LABELS[verdict(certificate)[0]],
                     headline(kinds[name], certificate)])
    return rows


def markdown(rows: list[list[str]]) -> str:
    """The rows as a Markdown table under `COLUMNS`."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit 2 with one line when a recipe is unknown."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from factory.core.errors import FactoryError
    from factory.recipe import load_params, load_recipe, recipe_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help="recipe names or files (default: params.yaml's recipes)")
    parser.add_argument("--root", type=Path, default=Path("data"), help="data folder of the finished run")
    args = parser.parse_args(argv)
    try:
        recipes = [load_recipe(recipe_path(r)) for r in args.recipes or load_params().recipes]
    except FactoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kinds = {recipe.name: recipe.kind for recipe in recipes}
    sys.stdout.write(markdown(table_rows(list(kinds), kinds, args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
