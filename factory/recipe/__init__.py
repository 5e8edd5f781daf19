"""Recipes: pydantic models of the YAML a recipe author writes, and their loading.

`factory.recipe.loader` is the only module in the project that reads YAML.
"""

from factory.recipe.loader import Params, load_params, load_recipe, recipe_path, recipe_problems
from factory.recipe.families import recipe_json_schema
from factory.recipe.schema import Recipe, RecipeKind

__all__ = [
    "Params",
    "Recipe",
    "RecipeKind",
    "load_params",
    "load_recipe",
    "recipe_json_schema",
    "recipe_path",
    "recipe_problems",
]
