#!/usr/bin/env python3
"""Writes crates/ladder-model/tests/fixtures/golden_llama_tiny.safetensors: a tiny Hugging Face
LlamaForCausalLM's parameters, one batch, its loss, logits and every parameter gradient, for
crates/ladder-model/tests/llama_golden.rs (the Llama twin of make_golden_fixture.py).

Needs: pip install torch transformers safetensors
Usage: python3 scripts/make_llama_golden_fixture.py [--out PATH]

Model: num_hidden_layers 2, hidden_size 32, num_attention_heads 2 (= num_key_value_heads),
intermediate_size 48, max_position_embeddings 16, vocab 67 (ladder pads it to 128), rms_norm_eps
1e-5, rope_theta 500 (every rotary pair turns by a visible angle over 16 positions), silu,
no biases, untied lm_head (the tied head is what hf_check.py checks by default), eager attention.
torch.manual_seed(0) initialisation by HF's _init_weights with initializer_range 0.2 (instead of
0.02) so that attention is far from uniform and every path has gradients of similar size.
Batch: B=2, T=16; tokens (B, T+1) int64; inputs = tokens[:, :-1], targets = tokens[:, 1:];
loss = mean cross-entropy over the B*T targets (nats/token).

Tensors written (all float32 unless noted):
  <hf name>          every parameter (model.embed_tokens.weight, lm_head.weight, model.layers.{i}.*, model.norm.weight)
  tokens             int64 (B, T+1)
  loss               (1,)
  logits             (B, T, V)
  grad.<hf name>     d loss / d param
"""
import argparse
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "crates", "ladder-model", "tests", "fixtures",
                                                  "golden_llama_tiny.safetensors"))
    a = ap.parse_args()

    torch.manual_seed(0)
    cfg = LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
                      intermediate_size=48, max_position_embeddings=16, vocab_size=67, rms_norm_eps=1e-5,
                      rope_theta=500.0, hidden_act="silu", attention_bias=False, mlp_bias=False,
                      tie_word_embeddings=False, initializer_range=0.2, attention_dropout=0.0,
                      bos_token_id=0, eos_token_id=0)
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg).float()
    model.eval()
    assert model.lm_head.weight is not model.model.embed_tokens.weight

    B, T, V = 2, 16, cfg.vocab_size
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, V, (B, T + 1), generator=g)
    x, y = tokens[:, :-1], tokens[:, 1:]

    out = {}
    params = dict(model.named_parameters())
    for name, p in params.items():
        out[name] = p.detach().clone()
    model.zero_grad()
    logits = model(input_ids=x).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    loss.backward()
    out["tokens"] = tokens.clone()
    out["loss"] = loss.detach().reshape(1).clone()
    out["logits"] = logits.detach().clone()
    for name, p in params.items():
        out["grad." + name] = p.grad.detach().clone()

    out = {k: v.contiguous() for k, v in out.items()}
    save_file(out, a.out, metadata={"torch": torch.__version__, "transformers": transformers.__version__,
                                    "script": "scripts/make_llama_golden_fixture.py"})
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes), loss {out['loss'].item():.6f}, "
          f"torch {torch.__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
