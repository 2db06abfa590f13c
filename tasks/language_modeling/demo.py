"""The demo agent of the language modelling task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would: it
looks at the files, reads the baseline, writes train.py (baseline.py's model and
optimizers, with a faster output layer, a schedule that starts at the full learning
rate, and more steps), runs it, checks the validation loss with evaluate.py, validates
and submits. train.py imports Model from baseline.py and leaves that file as it is, so
the scorer rebuilds the model from it. ``agent(task_dir)`` is a generator: it yields
reply texts and receives each observation through ``.send()``.
"""

from __future__ import annotations

from harness.models.demo import reply, write_and_run

SOLUTION = '''\
"""Train baseline.py's model longer, with a 10x faster output layer and a full-height
learning-rate schedule (constant, then a linear decay over the last 30% of the steps)."""

import glob
import pickle

import numpy as np
import torch

from baseline import Model, ModelConfig, Muon, batches, load_shard


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    paths = sorted(glob.glob("data/train/*.bin"))
    if sum(len(load_shard(p)) for p in paths) < 10_000_000:  # a quick run on small data
        config, steps, sequences, length = ModelConfig(n_layer=2, n_head=2, n_embd=32), 30, 1, 256
    else:
        config, steps, sequences, length = ModelConfig(), 1500, 128, 1024
    model = Model(config).to(device)
    optimizers = [
        torch.optim.Adam([model.transformer.wte.weight], lr=0.3, betas=(0.9, 0.95)),
        torch.optim.Adam([model.lm_head.weight], lr=0.02, betas=(0.9, 0.95)),
        Muon(model.transformer.h.parameters(), lr=0.02, momentum=0.95),
    ]
    peaks = [[g["lr"] for g in o.param_groups] for o in optimizers]
    data = batches(paths, sequences * length)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")
    for step in range(steps):
        scale = min(1.0, (steps - step) / (0.3 * steps))
        for optimizer, lrs in zip(optimizers, peaks):
            for group, lr in zip(optimizer.param_groups, lrs):
                group["lr"] = lr * scale
        chunk = torch.from_numpy(next(data).astype(np.int64)).to(device)
        x, y = chunk[:-1].view(sequences, length), chunk[1:].view(sequences, length)
        with autocast:
            _, loss = model(x, y, return_logits=False)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        model.zero_grad(set_to_none=True)
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps}: train loss {loss.item():.4f}")
    torch.save(model.state_dict(), "model.pt")
    with open("model_config.pt", "wb") as f:
        pickle.dump(model.get_config(), f)
    print("wrote model.pt and model_config.pt")


if __name__ == "__main__":
    main()
'''


def agent(task_dir):
    yield reply("Let me start by looking at the files in the workspace.", "ls -la data data/train")
    yield reply("Let me read the baseline to see the model and its training.", "cat baseline.py")
    yield reply(
        "The baseline's learning rates start at 38% of their peak and fall from there "
        "(a warm-down of 1,308 steps cut at 500), and its output layer learns at only "
        "0.002 from zero. A faster output layer, the full learning rate until the last "
        "30% of the steps, and more steps should lower the loss. I will write train.py "
        "that imports Model from baseline.py (the scorer rebuilds the model from it) and "
        "saves model.pt and model_config.pt. First I create the file.",
        "create train.py",
    )
    yield from write_and_run(SOLUTION, wrote="wrote model.pt and model_config.pt")
    yield reply(
        "Let me check the validation loss with the evaluation script.", "python evaluate.py"
    )
    yield reply("The validation loss is lower than the baseline's. Let me validate.", "validate")
    yield reply("The submission is valid and beats the baseline, so I submit it.", "submit")
