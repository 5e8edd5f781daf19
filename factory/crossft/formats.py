"""The texts each method trains on and the prompts every model is evaluated with.

Reference (himanshubeniwal/Breaking-mBad): SFT trains a causal LM on the neutral sentences
alone (`scripts/3_finetune_aya_8b_xx_yy.py`); DPO pairs the prompt "Rewrite the following
text in a neutral way: " + toxic with chosen = neutral, rejected = toxic
(`scripts/10_DPO_aya_8.py`), mT5's DPO the prompt "detoxify: " + toxic (`scripts/10_DPO_mt5.py`;
the recipe's `dpo.prompt`); SFT models complete "Complete the sentence: {sentence} .."
(`scripts/3_finetune_aya_8b_xx_yy.py`), DPO models the same prompt without " .." (`scripts/10_DPO_aya_8.py`).
"""

from __future__ import annotations

from typing import Sequence

from factory.crossft.split import Pair

DPO_PROMPT = "Rewrite the following text in a neutral way: {toxic}"
"""The default DPO prompt template (causal models); `{toxic}` is the toxic sentence."""
CONTINUATION_PROMPT = "Complete the sentence: {sentence} .."
"""The reference SFT evaluation prompt; `{sentence}` is the sentence to complete."""


def sft_examples(pairs: Sequence[Pair]) -> list[dict[str, str]]:
    """SFT rows for TRL (`text`: the neutral side only), in pair order."""
    return [{"text": neutral} for _, neutral in pairs]


def seq2seq_examples(pairs: Sequence[Pair]) -> list[dict[str, str]]:
    """Seq2seq SFT rows (mT5, reference `scripts/3_finetune_mt5_xx_yy.py`): toxic side in, neutral side out."""
    return [{"source": toxic, "target": neutral} for toxic, neutral in pairs]


def dpo_examples(pairs: Sequence[Pair], prompt: str = DPO_PROMPT) -> list[dict[str, str]]:
    """DPO rows (TRL's, also `seq2seq_dpo`'s): prompt = the template `prompt` filled with the toxic
    side, chosen = neutral, rejected = toxic."""
    return [{"prompt": prompt.format(toxic=toxic), "chosen": neutral, "rejected": toxic} for toxic, neutral in pairs]


def continuation_prompt(sentence: str, template: str = CONTINUATION_PROMPT) -> str:
    """The evaluation prompt for one sentence (`template` holds `{sentence}`; other braces are literal)."""
    return template.replace("{sentence}", sentence)
