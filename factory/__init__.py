"""Detox Factory: a dataset factory for LLM detoxification research.

Flow: ingest -> generate -> filter -> mix -> train -> evaluate -> certify -> publish.
Every stage module has `run(recipe, *, root=Path("data"), limit=None) -> Path`.
"""

__version__ = "0.1.0"
