"""Miniature models under the Hub ids of recipes/full: published architecture, config family,
dtype, tokenizer family and label map; random weights, a few MB each.

Dtypes as published (from the Hub configs' `torch_dtype`, as far as known without network):
Llama-3-8B-Instruct, Qwen2.5-7B-Instruct, Falcon-7B bf16; Llama-2-7b-hf, OPT-6.7B fp16;
Aya 23 8B, Aya Expanse 8B and BLOOM 7B1 fp16 (unsure); GPT-2, GPT-2 XL, BART-large, mT5-base,
mT5-large, the RoBERTa and XLM-R classifiers and LaBSE fp32. Weight files: sharded safetensors
with an index for the 7-8B models (as published); `pytorch_model.bin` only where the Hub repo
has no safetensors on `main` (the s-nlp and cointegrated classifiers, mT5-base and mT5-large;
unsure for the latter three). `gpt2` is served under its legacy id too (`LEGACY_IDS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from factory.hubsim import minitok

SMALL = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}
"""Head size 64 (vLLM's CPU attention has no kernel for 16), as GPT-2 XL; the 7-8B models have 128."""
GQA = {"hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4, "num_key_value_heads": 2}
"""Grouped-query attention (Llama 3, Qwen2.5, Aya): fewer key/value heads than query heads."""


@dataclass(frozen=True)
class Mini:
    """One miniature: its architecture class, config overrides, dtype, tokenizer and weight format."""

    arch: str
    config: dict[str, Any]
    dtype: str
    tokenizer: Callable[..., dict[str, Any]]
    weights: str = "safetensors"  # "safetensors", "sharded" or "bin"
    generation: dict[str, Any] = field(default_factory=dict)


def _llama(**extra: Any) -> dict[str, Any]:
    return {**SMALL, "num_key_value_heads": 2, "hidden_act": "silu", "rms_norm_eps": 1e-5,
            "tie_word_embeddings": False, **extra}


LABELS_TOXIC = {"id2label": {0: "neutral", 1: "toxic"}, "label2id": {"neutral": 0, "toxic": 1}}
TOXIC_BERT_LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
ROBERTA = {**SMALL, "max_position_embeddings": 514, "type_vocab_size": 1, "layer_norm_eps": 1e-5}

MODELS: dict[str, Mini] = {
    "meta-llama/Meta-Llama-3-8B-Instruct": Mini(
        "LlamaForCausalLM", _llama(**GQA, rope_theta=500000.0, max_position_embeddings=8192,
                                   num_hidden_layers=4),  # abliteration edits layers 3..L-1 (Hub: 32 layers)
        "bfloat16", minitok.llama3, "sharded", {"do_sample": True, "temperature": 0.6, "top_p": 0.9}),
    "meta-llama/Llama-2-7b-hf": Mini(
        "LlamaForCausalLM", _llama(max_position_embeddings=4096, rms_norm_eps=1e-5, pretraining_tp=1),
        "float16", minitok.llama2, "sharded", {"do_sample": True, "temperature": 0.6, "top_p": 0.9}),
    "Qwen/Qwen2.5-7B-Instruct": Mini(
        "Qwen2ForCausalLM", _llama(**GQA, rope_theta=1000000.0, max_position_embeddings=32768,
                                   rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=131072,
                                   max_window_layers=2),
        "bfloat16", minitok.qwen2, "sharded",
        {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05}),
    "CohereForAI/aya-23-8B": Mini(
        "CohereForCausalLM", _llama(**GQA, rope_theta=10000.0, max_position_embeddings=8192,
                                    layer_norm_eps=1e-5, logit_scale=0.125, use_qk_norm=False,
                                    tie_word_embeddings=True), "float16", minitok.cohere, "sharded"),
    "CohereForAI/aya-expanse-8b": Mini(
        "CohereForCausalLM", _llama(**GQA, rope_theta=10000.0, max_position_embeddings=8192,
                                    layer_norm_eps=1e-5, logit_scale=0.125, use_qk_norm=False,
                                    tie_word_embeddings=True), "float16", minitok.cohere, "sharded"),
    "tiiuae/falcon-7b": Mini(
        "FalconForCausalLM", {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                              "multi_query": True, "parallel_attn": True, "new_decoder_architecture": False,
                              "alibi": False, "bias": False, "layer_norm_epsilon": 1e-5},
        "bfloat16", minitok.falcon, "sharded"),
    "facebook/opt-6.7b": Mini(
        "OPTForCausalLM", {"hidden_size": 128, "ffn_dim": 256, "num_hidden_layers": 2, "num_attention_heads": 2,
                           "word_embed_proj_dim": 128, "max_position_embeddings": 2048, "do_layer_norm_before": True,
                           "activation_function": "relu"}, "float16", minitok.opt, "sharded"),
    "openai-community/gpt2-xl": Mini(
        "GPT2LMHeadModel", {"n_embd": 128, "n_layer": 2, "n_head": 2, "n_positions": 1024, "n_ctx": 1024},
        "float32", minitok.gpt2),
    "facebook/bart-large": Mini(
        "BartForConditionalGeneration", {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2,
                                         "encoder_attention_heads": 4, "decoder_attention_heads": 4,
                                         "encoder_ffn_dim": 128, "decoder_ffn_dim": 128,
                                         "max_position_embeddings": 1024, "forced_bos_token_id": 0,
                                         "decoder_start_token_id": 2, "scale_embedding": False},
        "float32", lambda folder, corpus: minitok.roberta(folder, corpus, cls="BartTokenizer", max_len=1024),
        "safetensors",
        {"no_repeat_ngram_size": 3, "num_beams": 4, "early_stopping": True, "forced_eos_token_id": 2}),
    "bigscience/bloom-7b1": Mini(  # ALiBi positions, fused query_key_value, no BOS added by the tokenizer
        "BloomForCausalLM", {"hidden_size": 128, "n_layer": 2, "n_head": 2, "layer_norm_epsilon": 1e-5,
                             "apply_residual_connection_post_layernorm": False, "pretraining_tp": 1,
                             "slow_but_exact": False}, "float16", minitok.bloom, "sharded"),
    "openai-community/gpt2": Mini(  # the crosslingual recipes' perplexity model, named `gpt2` there
        "GPT2LMHeadModel", {"n_embd": 128, "n_layer": 2, "n_head": 2, "n_positions": 1024, "n_ctx": 1024},
        "float32", minitok.gpt2),
    "google/mt5-large": Mini(
        "MT5ForConditionalGeneration", {"d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2,
                                        "num_decoder_layers": 2, "num_heads": 4, "feed_forward_proj": "gated-gelu",
                                        "tie_word_embeddings": False, "relative_attention_num_buckets": 32},
        "float32", minitok.mt5, "bin"),
    "google/mt5-base": Mini(
        "MT5ForConditionalGeneration", {"d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2,
                                        "num_decoder_layers": 2, "num_heads": 4, "feed_forward_proj": "gated-gelu",
                                        "tie_word_embeddings": False, "relative_attention_num_buckets": 32},
        "float32", minitok.mt5, "bin"),
    "s-nlp/roberta_toxicity_classifier": Mini(
        "RobertaForSequenceClassification", {**ROBERTA, **LABELS_TOXIC}, "float32", minitok.roberta, "bin"),
    "cointegrated/roberta-large-cola-krishna2020": Mini(
        "RobertaForSequenceClassification", {**ROBERTA, "id2label": {0: "LABEL_0", 1: "LABEL_1"},
                                             "label2id": {"LABEL_0": 0, "LABEL_1": 1}},
        "float32", minitok.roberta, "bin"),
    "Elron/bleurt-large-128": Mini(
        "BertForSequenceClassification", {**SMALL, "max_position_embeddings": 512, "num_labels": 1,
                                          "id2label": {0: "LABEL_0"}, "label2id": {"LABEL_0": 0}},
        "float32", minitok.bert, "bin"),
    "unitary/toxic-bert": Mini(  # Jigsaw's six labels, multi-label (sigmoid), bert-base-uncased's tokenizer
        "BertForSequenceClassification",
        {**SMALL, "max_position_embeddings": 512, "problem_type": "multi_label_classification",
         "id2label": dict(enumerate(TOXIC_BERT_LABELS)), "label2id": {n: i for i, n in enumerate(TOXIC_BERT_LABELS)}},
        "float32", lambda folder, corpus: minitok.bert(folder, corpus, lowercase=True), "bin"),
    "textdetox/xlmr-large-toxicity-classifier": Mini(
        "XLMRobertaForSequenceClassification", {**ROBERTA, **LABELS_TOXIC}, "float32", minitok.xlmr),
}
"""Every model the full recipes name (LaBSE is built by `labse`, a sentence-transformers repo)."""

LEGACY_IDS = {"gpt2": "openai-community/gpt2"}
"""Ids without an owner that the Hub still answers for the repo they moved to (as the real Hub does)."""


def _config(mini: Mini, token_ids: dict[str, Any]) -> Any:
    import transformers

    model_class = getattr(transformers, mini.arch)
    settings = {k: v for k, v in token_ids.items() if k != "eos_ids"}
    return model_class.config_class(**mini.config, **settings, architectures=[mini.arch], torch_dtype=mini.dtype)


def build_model(repo_id: str, folder: Path, corpus: list[str]) -> None:
    """Write the miniature of `repo_id` into `folder` (tokenizer, config, weights, generation config)."""
    import torch
    import transformers

    mini = MODELS[repo_id]
    folder.mkdir(parents=True, exist_ok=True)
    token_ids = mini.tokenizer(folder, corpus)
    config = _config(mini, token_ids)
    torch.manual_seed(0)
    model = getattr(transformers, mini.arch)(config).to(getattr(torch, mini.dtype))
    shard = "100KB" if mini.weights == "sharded" else "10GB"
    if mini.weights == "bin":
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
        config.save_pretrained(folder)
    else:
        model.save_pretrained(folder, max_shard_size=shard)
    _published_dtype_key(folder / "config.json")
    if model.can_generate():
        generation = model.generation_config  # what transformers derives from the config, as on the Hub
        generation.update(**mini.generation)
        if "eos_ids" in token_ids:
            generation.eos_token_id = token_ids["eos_ids"]
        generation.save_pretrained(folder)


def _published_dtype_key(path: Path) -> None:
    """Hub configs of these checkpoints name their dtype `torch_dtype` (transformers 5 writes `dtype`)."""
    config = json.loads(path.read_text())
    config["torch_dtype"] = config.pop("dtype", config.get("torch_dtype"))
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


LABSE = "sentence-transformers/LaBSE"


def build_labse(folder: Path, corpus: list[str]) -> None:
    """LaBSE as on the Hub: BertModel + Pooling (CLS) + Dense (tanh) + Normalize, WordPiece vocabulary."""
    import torch
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    ids = minitok.bert(folder, corpus)
    config = BertConfig(**SMALL, **ids, max_position_embeddings=512, architectures=["BertModel"],
                        torch_dtype="float32")
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    _published_dtype_key(folder / "config.json")
    write = lambda path, payload: (folder / path).write_text(json.dumps(payload, indent=2) + "\n")  # noqa: E731
    write("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write("sentence_bert_config.json", {"max_seq_length": 256, "do_lower_case": False})
    write("config_sentence_transformers.json", {"__version__": {"sentence_transformers": "2.0.0"}})
    (folder / "1_Pooling").mkdir(exist_ok=True)
    write("1_Pooling/config.json", {"word_embedding_dimension": 128, "pooling_mode_cls_token": True,
                                    "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
                                    "pooling_mode_mean_sqrt_len_tokens": False})
    (folder / "2_Dense").mkdir(exist_ok=True)
    write("2_Dense/config.json", {"in_features": 128, "out_features": 128, "bias": True,
                                  "activation_function": "torch.nn.modules.activation.Tanh"})
    dense = torch.nn.Linear(128, 128)
    torch.save({"linear.weight": dense.weight.detach(), "linear.bias": dense.bias.detach()},
               folder / "2_Dense" / "pytorch_model.bin")
    (folder / "3_Normalize").mkdir(exist_ok=True)
