"""Cross-lingual fine-tuning for detoxification (Beniwal et al. 2025, "Breaking mBad"), as pure algorithms.

Nothing here knows recipe kinds or pipeline folders: `split` selects the reference's rows,
`formats` builds the SFT, DPO and continuation texts, `training` fine-tunes with TRL and PEFT,
`generation` samples continuations and scores perplexity, `matrices` averages per
(train setting, eval language) cell with paired bootstrap intervals, `heatmaps` renders them;
`embeddings` is the paper's embedding analysis (silhouette by language, category confusion).
The recipe kind that wires them into the pipeline is `factory.kinds.crosslingual.steps`.
"""
