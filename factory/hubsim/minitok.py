"""Tiny tokenizers of the published families, trained on the project's own text (no downloads).

Each builder writes into a repo folder the tokenizer files its Hub repo holds: `tokenizer.json`
with `tokenizer_config.json` for the byte-level BPE families (GPT-2, OPT, RoBERTa/BART, Falcon,
Llama 3, Qwen2.5, Cohere, BLOOM), a SentencePiece model for Llama 2 (BPE), mT5 and XLM-R (Unigram),
and a WordPiece `vocab.txt` for BERT/LaBSE. Vocabularies are small, so token ids differ from
the published ones; special tokens, their order, templates and classes follow the Hub files.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

VOCAB = 1000
"""Vocabulary size of every miniature tokenizer (before its special tokens)."""

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA3_CHAT = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
QWEN_CHAT = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or "
    "(message.role == 'assistant') %}{{- '<|im_start|>' + message.role + '\\n' + message.content + "
    "'<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}{%- endif %}")
COHERE_CHAT = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% if system_message != false %}"
    "{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% set content = message['content'] %}{% if message['role'] == 'user' %}"
    "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + "
    "content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}")

FALCON_SPECIAL = [">>TITLE<<", ">>ABSTRACT<<", ">>INTRODUCTION<<", ">>SUMMARY<<", ">>COMMENT<<", ">>ANSWER<<",
                  ">>QUESTION<<", ">>DOMAIN<<", ">>PREFIX<<", ">>SUFFIX<<", ">>MIDDLE<<", "<|endoftext|>"]
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
COHERE_SPECIAL = ["<PAD>", "<UNK>", "<CLS>", "<SEP>", "<MASK_TOKEN>", "<BOS_TOKEN>", "<EOS_TOKEN>", "<EOP_TOKEN>",
                  "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>",
                  "<|SYSTEM_TOKEN|>"]
QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def _byte_bpe(corpus: Sequence[str], special: list[str], *, prefix_space: bool = False, split: str | None = None,
              specials_first: bool = True) -> Tokenizer:
    """A byte-level BPE trained on `corpus`; special tokens first (GPT-2 family) or last (tiktoken family)."""
    tokenizer = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space, use_regex=split is None)
    tokenizer.pre_tokenizer = (byte_level if split is None else pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(split), behavior="isolated"), byte_level]))
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB + len(special), special_tokens=special if specials_first else [],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer)
    if not specials_first:
        tokenizer.add_special_tokens(special)
    return tokenizer


def _save(folder: Path, tokenizer: Tokenizer, config: dict[str, Any], special_map: dict[str, Any]) -> None:
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(folder / "special_tokens_map.json", special_map)


def _ids(tokenizer: Tokenizer, *tokens: str) -> list[int]:
    return [tokenizer.token_to_id(t) for t in tokens]


def gpt2(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """GPT-2 BPE: `<|endoftext|>` is BOS, EOS and UNK; nothing added around texts."""
    tok = _byte_bpe(corpus, ["<|endoftext|>"])
    eot = "<|endoftext|>"
    _save(folder, tok, {"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": False,
                        "bos_token": eot, "eos_token": eot, "unk_token": eot},
          {"bos_token": eot, "eos_token": eot, "unk_token": eot})
    eot_id = tok.token_to_id(eot)
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": eot_id, "eos_token_id": eot_id}


def roberta(folder: Path, corpus: Sequence[str], *, cls: str = "RobertaTokenizer",
            max_len: int = 512) -> dict[str, int]:
    """RoBERTa / BART BPE: <s> <pad> </s> <unk> first, <mask> last, `<s> A </s>` around texts."""
    tok = _byte_bpe(corpus, ["<s>", "<pad>", "</s>", "<unk>"])
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
    names = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
             "pad_token": "<pad>", "mask_token": "<mask>"}
    _save(folder, tok, {"tokenizer_class": cls, "model_max_length": max_len, **names}, names)
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2}


def opt(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """OPT's GPT-2 BPE: `</s>` (id 2) is BOS and EOS and is prepended to every text."""
    tok = _byte_bpe(corpus, ["<s>", "<pad>", "</s>", "<unk>"])
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", pair="</s> $A $B",
                                                       special_tokens=[("</s>", 2)])
    names = {"bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}
    _save(folder, tok, {"tokenizer_class": "GPT2Tokenizer", "add_bos_token": True, "model_max_length": 1000000000000,
                        **names}, names)
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": 2, "pad_token_id": 1, "eos_token_id": 2}


BLOOM_SPLIT = " ?[^(\\s|[.,!?…。，、।۔،])]+"
"""BLOOM's pre-tokenizer split (tokenizer.json of bigscience/bloom*), then byte-level without GPT-2's regex."""


def bloom(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """BLOOM's byte-level BPE (only `tokenizer.json`: BloomTokenizerFast has no slow tokenizer): <unk> 0, <s> 1,
    </s> 2, <pad> 3, nothing added around texts, left padding. The model's embedding is padded past the
    tokenizer to a multiple of 128 (the Hub's 250880 rows for 250680 tokens)."""
    tok = _byte_bpe(corpus, ["<unk>", "<s>", "</s>", "<pad>"], split=BLOOM_SPLIT)
    names = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
    _save(folder, tok, {"tokenizer_class": "BloomTokenizerFast", "add_prefix_space": False, "padding_side": "left",
                        "model_max_length": 1000000000000000019884624838656, **names}, names)
    padded = -(-tok.get_vocab_size() // 128) * 128
    return {"vocab_size": padded, "unk_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3}


def falcon(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """Falcon's BPE: eleven >>MARKER<< tokens then `<|endoftext|>` (id 11), nothing added around texts."""
    tok = _byte_bpe(corpus, FALCON_SPECIAL)
    _save(folder, tok, {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 2048,
                        "eos_token": "<|endoftext|>", "model_input_names": ["input_ids", "attention_mask"]},
          {"additional_special_tokens": FALCON_SPECIAL[:-1], "eos_token": "<|endoftext|>"})
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": 11, "eos_token_id": 11}


def llama3(folder: Path, corpus: Sequence[str]) -> dict[str, Any]:
    """Llama 3 (tiktoken-style BPE, specials after the vocabulary), BOS prepended, Instruct chat template."""
    tok = _byte_bpe(corpus, LLAMA3_SPECIAL, split=LLAMA3_SPLIT, specials_first=False)
    bos, eot, end = _ids(tok, "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    _save(folder, tok, {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
                        "eos_token": "<|eot_id|>", "chat_template": LLAMA3_CHAT, "clean_up_tokenization_spaces": True,
                        "model_input_names": ["input_ids", "attention_mask"],
                        "model_max_length": 1000000000000000019884624838656},
          {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": bos, "eos_token_id": eot, "eos_ids": [end, eot]}


def qwen2(folder: Path, corpus: Sequence[str]) -> dict[str, Any]:
    """Qwen2.5 BPE (specials after the vocabulary, no BOS), ChatML template with its default system prompt."""
    tok = _byte_bpe(corpus, QWEN_SPECIAL, split=QWEN_SPLIT, specials_first=False)
    end, im_end = _ids(tok, "<|endoftext|>", "<|im_end|>")
    _save(folder, tok, {"tokenizer_class": "Qwen2Tokenizer", "bos_token": None, "eos_token": "<|im_end|>",
                        "pad_token": "<|endoftext|>", "chat_template": QWEN_CHAT, "errors": "replace",
                        "model_max_length": 131072, "split_special_tokens": False},
          {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "additional_special_tokens": QWEN_SPECIAL[1:]})
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": end, "eos_token_id": im_end, "pad_token_id": end,
            "eos_ids": [im_end, end]}


def cohere(folder: Path, corpus: Sequence[str]) -> dict[str, Any]:
    """Cohere's BPE (Aya): <PAD> <UNK> ... <BOS_TOKEN> first, BOS prepended, Cohere chat template."""
    tok = _byte_bpe(corpus, COHERE_SPECIAL, prefix_space=False)
    bos, eot = _ids(tok, "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>")
    tok.post_processor = processors.TemplateProcessing(single="<BOS_TOKEN> $A", pair="<BOS_TOKEN> $A <BOS_TOKEN> $B",
                                                       special_tokens=[("<BOS_TOKEN>", bos)])
    names = {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>", "pad_token": "<PAD>", "unk_token": None}
    _save(folder, tok, {"tokenizer_class": "CohereTokenizer", "add_bos_token": True, "add_eos_token": False,
                        "chat_template": COHERE_CHAT, "model_max_length": 1000000000000000019884624838656,
                        "legacy": True, **names}, {k: v for k, v in names.items() if v})
    return {"vocab_size": tok.get_vocab_size(), "bos_token_id": bos, "eos_token_id": eot, "pad_token_id": 0}


def _sentencepiece(path: Path, corpus: Sequence[str], model_type: str, **options: Any) -> None:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, model_type=model_type,
                                   vocab_size=VOCAB, character_coverage=1.0, num_threads=1, minloglevel=2,
                                   hard_vocab_limit=False, **options)
    path.write_bytes(model.getvalue())


def llama2(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """Llama 2's SentencePiece BPE with byte fallback (<unk> 0, <s> 1, </s> 2), BOS prepended."""
    _sentencepiece(folder / "tokenizer.model", corpus, "bpe", byte_fallback=True, unk_id=0, bos_id=1, eos_id=2,
                   pad_id=-1)
    names = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    _write_json(folder / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True,
                                                   "add_eos_token": False, "legacy": False, "pad_token": None,
                                                   "model_max_length": 1000000000000000019884624838656, **names})
    _write_json(folder / "special_tokens_map.json", names)
    return {"vocab_size": _convert_to_json(folder), "bos_token_id": 1, "eos_token_id": 2}


def _convert_to_json(folder: Path) -> int:
    """Add the `tokenizer.json` transformers converts from the SentencePiece model; its size."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.backend_tokenizer.save(str(folder / "tokenizer.json"))
    return len(tok)


def mt5(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """mT5's SentencePiece Unigram (<pad> 0, </s> 1, <unk> 2), only `spiece.model` as on the Hub."""
    _sentencepiece(folder / "spiece.model", corpus, "unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    names = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    _write_json(folder / "tokenizer_config.json", {"tokenizer_class": "T5Tokenizer", "extra_ids": 0,
                                                   "additional_special_tokens": None, **names})
    _write_json(folder / "special_tokens_map.json", names)
    return {"vocab_size": VOCAB, "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0}


def xlmr(folder: Path, corpus: Sequence[str]) -> dict[str, int]:
    """XLM-R's SentencePiece Unigram with the fairseq offset (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last)."""
    _sentencepiece(folder / "sentencepiece.bpe.model", corpus, "unigram", unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
    names = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
             "pad_token": "<pad>", "mask_token": "<mask>"}
    _write_json(folder / "tokenizer_config.json", {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
                                                   **names})
    _write_json(folder / "special_tokens_map.json", names)
    return {"vocab_size": _convert_to_json(folder), "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2}


def bert(folder: Path, corpus: Sequence[str], *, lowercase: bool = False) -> dict[str, int]:
    """BERT WordPiece, cased (LaBSE) or uncased (toxic-bert, bert-base-uncased's): vocab.txt plus tokenizer.json,
    [CLS] A [SEP]."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=None if lowercase else False)
    tok.train_from_iterator(corpus, vocab_size=VOCAB, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                            show_progress=False)
    vocab = sorted(tok.get_vocab().items(), key=lambda item: item[1])
    (folder / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in vocab))
    tok.save(str(folder / "tokenizer.json"))
    names = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
             "mask_token": "[MASK]"}
    _write_json(folder / "tokenizer_config.json", {"tokenizer_class": "BertTokenizer", "do_lower_case": lowercase,
                                                   "model_max_length": 512, "strip_accents": None, **names})
    _write_json(folder / "special_tokens_map.json", names)
    return {"vocab_size": len(vocab), "pad_token_id": 0}
