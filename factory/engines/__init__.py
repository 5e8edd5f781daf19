"""Engines: where generation and MinHash dedupe run - `local` (in process) or `ray` (Ray Data).

Stages choose through the recipe's `engine` section; the Ray modules (`ray_generate`,
`ray_dedupe`) import `ray` only inside their functions, so a local run never loads it.
Engines sit below the stages: they use `factory.models` and the MinHash kernels of
`factory.filter.minhash`, and never import a stage.
"""
