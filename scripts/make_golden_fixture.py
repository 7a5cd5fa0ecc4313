#!/usr/bin/env python3
"""Writes crates/ladder-model/tests/fixtures/golden_tiny.safetensors: a tiny Hugging Face
GPT2LMHeadModel's parameters, one batch, its loss, logits and every parameter gradient, plus three
torch.optim.AdamW steps, for crates/ladder-model/tests/hf_golden.rs.

Needs: pip install torch transformers safetensors
Usage: python3 scripts/make_golden_fixture.py [--out PATH]

Model: n_layer 2, n_embd 32, n_head 2, n_positions 16, vocab 67 (ladder pads it to 128, so the
padding path is exercised), gelu_new, dropouts 0, layer_norm_epsilon 1e-5, tied embeddings,
eager attention. torch.manual_seed(0) initialisation (HF's _init_weights).
Batch: B=2, T=16; tokens (B, T+1) int64; inputs = tokens[:, :-1], targets = tokens[:, 1:];
loss = mean cross-entropy over the B*T targets (nats/token).

Tensors written (all float32 unless noted):
  <hf name>                   every parameter (lm_head.weight is tied to transformer.wte.weight: not repeated)
  tokens                      int64 (B, T+1)
  loss                        (1,)
  logits                      (B, T, V)
  grad.<hf name>              d loss / d param (wte's includes the lm-head contribution)
  adamw.loss                  (3,) loss before each of 3 AdamW steps on the same batch
                              (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1 on tensors
                              with dim >= 2 only, i.e. wte, wpe and the Conv1D weights)
  adamw.final.<hf name>       parameters after the 3 steps, for a subset of tensors (size budget)
"""
import argparse
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

ADAMW_SUBSET = [
    "transformer.wte.weight",
    "transformer.wpe.weight",
    "transformer.h.0.ln_1.weight",
    "transformer.h.0.attn.c_attn.weight",
    "transformer.h.1.mlp.c_proj.bias",
    "transformer.ln_f.bias",
]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "crates", "ladder-model", "tests", "fixtures",
                                                  "golden_tiny.safetensors"))
    a = ap.parse_args()

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=16, vocab_size=67,
                     activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    cfg._attn_implementation = "eager"
    model = GPT2LMHeadModel(cfg).float()
    model.eval()  # dropouts are 0 anyway; eval() makes it explicit
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    assert model.lm_head.weight is model.transformer.wte.weight

    B, T, V = 2, 16, cfg.vocab_size
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, V, (B, T + 1), generator=g)
    x, y = tokens[:, :-1], tokens[:, 1:]

    def loss_fn():
        logits = model(input_ids=x).logits
        return torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), logits

    out = {}
    params = dict(model.named_parameters())  # tied lm_head appears once, as transformer.wte.weight
    for name, p in params.items():
        out[name] = p.detach().clone()
    model.zero_grad()
    loss, logits = loss_fn()
    loss.backward()
    out["tokens"] = tokens.clone()
    out["loss"] = loss.detach().reshape(1).clone()
    out["logits"] = logits.detach().clone()
    for name, p in params.items():
        out["grad." + name] = p.grad.detach().clone()

    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss, _ = loss_fn()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    out["adamw.loss"] = torch.tensor(losses, dtype=torch.float32)
    for name in ADAMW_SUBSET:
        out["adamw.final." + name] = params[name].detach().clone()

    out = {k: v.contiguous() for k, v in out.items()}
    save_file(out, a.out, metadata={"torch": torch.__version__, "transformers": transformers.__version__,
                                    "script": "scripts/make_golden_fixture.py"})
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes), loss {out['loss'].item():.6f}, "
          f"torch {torch.__version__}, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
