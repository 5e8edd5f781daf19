"""One module per DVC stage verb; each has `run(recipe, *, root, limit) -> Path` and asks the
kind registry (`factory.kinds.kind_of`) for whatever depends on the recipe's kind."""
