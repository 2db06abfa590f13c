"""Baseline: MLGym-Bench's language model (modded-nanogpt's GPT-2 with the Muon optimizer).

Model (``Model(ModelConfig(...))``): 12 transformer blocks of width 768 with 6 heads
of 128, vocabulary 50,304 (GPT-2's 50,257 padded). Token embeddings, then an RMS norm
(no learned scale); each block adds attention and an MLP, each reading an RMS-normed
input. Attention: separate query, key and value projections without bias, an RMS norm
of each query and key head, rotary position embeddings (base 10,000, the head split in
two halves, cosines and sines rounded to bfloat16) and causal softmax attention. MLP:
a hidden layer of 4x the width with a squared ReLU. Output projections of attention and
MLP and the (untied) output layer start at zero; the rest keeps PyTorch's defaults.
``forward(idx, targets=None, return_logits=True)`` returns ``(logits, loss)``.

Training: 500 steps, each of 128 sequences of 1,024 tokens (MLGym-Bench ran its
baseline on two GPUs of 64 sequences each; here that is two micro-batches of 64 whose
gradients are averaged), read in order from the first training shard. As in MLGym's
data loader, the first batch is read twice (steps 1 and 2), then the next ones follow.
Optimizers: Adam (betas 0.9/0.95, no weight decay) at 0.3 for the embeddings and
0.002 for the output layer; Muon (SGD with Nesterov momentum 0.95 whose update for each
matrix is orthogonalised by 5 Newton-Schulz iterations and scaled by
sqrt(max(1, rows/cols))) at 0.02 for all block weights. Every learning rate is
multiplied by (500 - step) / 1308 at step 0..499 (a linear warm-down of 1,308 steps cut
short at 500). On a GPU: bfloat16 autocast, the Newton-Schulz iterations in bfloat16
and torch.compile; on a CPU everything is float32 (and the full run would take weeks).

A quick run (training data under 10M tokens, as in the harness's tiny test set) trains
a two-block model of width 32 with 2 heads for 20 steps of one sequence of 256 tokens,
with the warm-down scaled to the same shape, so the whole pipeline runs in seconds.

Writes MLGym-Bench's submission: ``model.pt`` (the model's state dict, torch.save) and
``model_config.pt`` (the pickled ModelConfig). The scorer rebuilds the model from this
file's ``Model`` class, so keep the class here (or change it here) when you change the
model. ``python evaluate.py`` prints the validation loss as the scorer computes it.
"""

import glob
import math
import pickle
from dataclasses import dataclass

import numpy as np
import torch
import torch._dynamo
import torch.nn as nn
import torch.nn.functional as F

HEADER = 256


# -- the model ------------------------------------------------------------------------


@dataclass
class ModelConfig:
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6
    n_embd: int = 768


def rotate(x, cos, sin):
    """Rotary embedding of ``x`` (batch, time, heads, head size): its two halves turned
    by the angles whose cosines and sines are given per position."""
    half = x.shape[3] // 2
    first, second = x[..., :half], x[..., half:]
    turned = torch.cat([first * cos + second * sin, second * cos - first * sin], dim=3)
    return turned.type_as(x)


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.n_head
        self.head_size = config.n_embd // config.n_head
        assert self.head_size * self.heads == config.n_embd
        self.c_q = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.c_k = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.c_v = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        nn.init.zeros_(self.c_proj.weight)
        steps = torch.arange(0, self.head_size, 2).float() / self.head_size
        self.inv_freq = 1.0 / (10000**steps)  # a plain attribute, as in MLGym (not saved)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, self.head_size)
                   for proj in (self.c_q, self.c_k, self.c_v))
        angles = torch.outer(torch.arange(t, device=x.device).float(), self.inv_freq.to(x.device))
        cos = angles.cos().bfloat16()[None, :, None, :]
        sin = angles.sin().bfloat16()[None, :, None, :]
        q = rotate(F.rms_norm(q, (self.head_size,)), cos, sin)
        k = rotate(F.rms_norm(k, (self.head_size,)), cos, sin)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)
        nn.init.zeros_(self.c_proj.weight)

    def forward(self, x):
        return self.c_proj(F.relu(self.c_fc(x)).square())


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn = Attention(config)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(F.rms_norm(x, (x.shape[-1],)))
        return x + self.mlp(F.rms_norm(x, (x.shape[-1],)))


class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),
                "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        nn.init.zeros_(self.lm_head.weight)

    def forward(self, idx, targets=None, return_logits=True):
        x = self.transformer.wte(idx)
        x = F.rms_norm(x, (x.shape[-1],))
        for block in self.transformer.h:
            x = block(x)
        x = F.rms_norm(x, (x.shape[-1],))
        if targets is None:  # generation: the last position only
            return (self.lm_head(x[:, -1:]).float() if return_logits else None), None
        logits = self.lm_head(x).float()
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)
        return (logits if return_logits else None), loss

    def get_config(self):
        return self.config


# -- Muon -------------------------------------------------------------------------------


def orthogonalise(g, steps=5, eps=1e-7):
    """An approximately orthogonal matrix near ``g``: the quintic Newton-Schulz iteration
    of modded-nanogpt (coefficients 3.4445, -4.7750, 2.0315), which pushes every singular
    value of the normalised matrix towards 1 (to roughly 0.5-1.5, which trains as well)."""
    x = g.bfloat16() if g.is_cuda else g.float()
    x = x / (x.norm() + eps)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        cubic = gram @ x
        x = 3.4445 * x - 4.7750 * cubic + 2.0315 * gram @ cubic
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """SGD with Nesterov momentum whose step for each weight matrix is orthogonalised."""

    def __init__(self, params, lr=0.02, momentum=0.95, nesterov=True, backend_steps=5):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      backend_steps=backend_steps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buffer = state["momentum_buffer"]
                buffer.mul_(group["momentum"]).add_(p.grad)
                g = p.grad.add(buffer, alpha=group["momentum"]) if group["nesterov"] else p.grad
                g = orthogonalise(g, steps=group["backend_steps"])
                g = g * max(1, g.shape[0] / g.shape[1]) ** 0.5
                p.add_(g.type_as(p), alpha=-group["lr"])


# -- data and training ------------------------------------------------------------------


def load_shard(path):
    header = np.fromfile(path, dtype="<i4", count=HEADER)
    assert header[0] == 20240520 and header[1] == 1, f"{path}: not a token shard"
    return np.memmap(path, dtype="<u2", mode="r", offset=HEADER * 4, shape=(int(header[2]),))


def batches(paths, tokens_per_batch):
    """(start, shard) of each batch of ``tokens_per_batch`` + 1 tokens, endlessly: in
    order through each shard, a shard's leftover tail skipped, the shards in a cycle."""
    shard = 0
    while True:
        tokens = load_shard(paths[shard])
        for start in range(0, len(tokens) - tokens_per_batch, tokens_per_batch):
            yield tokens[start : start + tokens_per_batch + 1]
        shard = (shard + 1) % len(paths)


@dataclass
class Settings:
    config: ModelConfig
    steps: int = 500
    micro_batches: int = 2  # MLGym-Bench's two GPUs
    sequences: int = 64  # per micro-batch (MLGym's device_batch_size)
    length: int = 1024
    warmdown: float = 1308


def settings(train_tokens):
    if train_tokens < 10_000_000:  # a quick run on small data
        return Settings(ModelConfig(n_layer=2, n_head=2, n_embd=32), steps=20, micro_batches=1,
                        sequences=1, length=256, warmdown=1308 * 20 / 500)
    return Settings(ModelConfig())


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    paths = sorted(glob.glob("data/train/*.bin"))
    run = settings(sum(len(load_shard(p)) for p in paths))
    model = Model(run.config).to(device)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, {run.steps} steps")
    trained = model
    if device == "cuda":
        torch._dynamo.config.suppress_errors = True  # fall back to eager where compile fails
        trained = torch.compile(model)
    cuda = device == "cuda"
    optimizers = [
        torch.optim.Adam([model.transformer.wte.weight], lr=0.3, betas=(0.9, 0.95), fused=cuda),
        torch.optim.Adam([model.lm_head.weight], lr=0.002, betas=(0.9, 0.95), fused=cuda),
        Muon(model.transformer.h.parameters(), lr=0.02, momentum=0.95),
    ]
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]
    span = run.micro_batches * run.sequences * run.length
    data = batches(paths, span)
    first = next(data)
    data = batches(paths, span)  # MLGym's loader restarts after its first read
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=cuda)
    for step in range(run.steps):
        scale = (run.steps - step) / run.warmdown
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * scale
        chunk = first if step == 0 else next(data)
        chunk = torch.from_numpy(chunk.astype(np.int64)).to(device)
        x = chunk[:-1].view(run.micro_batches, run.sequences, run.length)
        y = chunk[1:].view(run.micro_batches, run.sequences, run.length)
        trained.train()
        for micro in range(run.micro_batches):
            with autocast:
                _, loss = trained(x[micro], y[micro], return_logits=False)
            (loss / run.micro_batches).backward()
        for optimizer in optimizers:
            optimizer.step()
        model.zero_grad(set_to_none=True)
        if step % 50 == 0 or step == run.steps - 1:
            print(f"step {step + 1}/{run.steps}: train loss {loss.item():.4f}")
    torch.save(model.state_dict(), "model.pt")
    with open("model_config.pt", "wb") as f:
        pickle.dump(model.get_config(), f)
    print(f"wrote model.pt and model_config.pt (last train loss {loss.item():.4f}, "
          f"perplexity {math.exp(loss.item()):.1f})")


if __name__ == "__main__":
    main()
