"""The demo agent of the Fashion-MNIST task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would: it
looks at the files and the data's shapes, reads the baseline, writes train.py (a
batch-normalised CNN trained with AdamW and a one-cycle schedule on randomly shifted
images), runs it, checks the validation accuracy, validates and submits.
"""

from __future__ import annotations

from harness.models.demo import reply, write_and_run

SOLUTION = '''\
"""Batch-normalised CNN, AdamW with a one-cycle schedule, random shifts, label smoothing."""
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"


def load(name):
    with np.load(f"data/{name}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


def as_tensor(images):
    return torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0


train, validation, test = load("train"), load("validation"), load("test_images")
x = as_tensor(train["images"]).to(device)
y = torch.tensor(train["labels"]).long().to(device)
if len(x) < 5000:  # small batches of a tiny data set: a second thread costs more than it saves
    torch.set_num_threads(1)
mean, std = x.mean(), x.std()


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


model = nn.Sequential(block(1, 24), block(24, 48), nn.Flatten(), nn.Dropout(0.3),
                      nn.Linear(48 * 7 * 7, 10)).to(device)
batch = 64
epochs = 15 if len(x) < 5000 else 10  # the tiny test data set, or the full one
steps = epochs * ((len(x) + batch - 1) // batch)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)


def shift(images, pad=3):
    """Random translations of up to `pad` pixels (zero padding, cropped back)."""
    n = len(images)
    padded = F.pad(images, (pad,) * 4)
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), device=images.device)
    rows = torch.arange(28, device=images.device) + dy[:, None]
    cols = torch.arange(28, device=images.device) + dx[:, None]
    index = torch.arange(n, device=images.device)[:, None, None]
    return padded[index, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


started = time.time()
for epoch in range(epochs):
    model.train()
    order = torch.randperm(len(x), device=device)
    for i in range(0, len(x), batch):
        idx = order[i : i + batch]
        loss = F.cross_entropy(model((shift(x[idx]) - mean) / std), y[idx], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
print(f"trained {epochs} epochs in {time.time() - started:.0f}s, last loss {loss.item():.3f}")


@torch.no_grad()
def predict(images):
    model.eval()
    t = as_tensor(images)
    return np.concatenate([model((t[i : i + 1000].to(device) - mean) / std).argmax(1).cpu().numpy()
                           for i in range(0, len(t), 1000)])


predicted = predict(validation["images"])
print(f"validation accuracy: {(predicted == validation['labels']).mean():.4f}")
pd.DataFrame({"id": np.arange(len(predicted)), "label": predicted}).to_csv(
    "validation_predictions.csv", index=False)
predicted = predict(test["images"])
pd.DataFrame({"id": np.arange(len(predicted)), "label": predicted}).to_csv(
    "submission.csv", index=False)
print(f"wrote submission.csv ({len(predicted)} rows)")
'''

SHAPES = (
    'python -c "import numpy as np; '
    "[print(n, {k: v.shape for k, v in np.load(f'data/{n}.npz').items()}) "
    "for n in ('train', 'validation', 'test_images')]\""
)


def agent(task_dir):
    yield reply("Let me start by looking at the files in the workspace.", "ls -la . data")
    yield reply("Let me see the shapes of the arrays in the data files.", SHAPES)
    yield reply("Let me read the baseline to see its model and training loop.", "cat baseline.py")
    yield reply(
        "The baseline is a small CNN trained with AdamW at a tiny learning rate and no augmentation. "
        "I will use batch normalisation, AdamW with a one-cycle learning-rate schedule, "
        "label smoothing, dropout and random shifts of the images, which the classes "
        "should not depend on. First I create train.py.",
        "create train.py",
    )
    yield from write_and_run(SOLUTION)
    yield reply(
        "Let me check the validation predictions with the evaluation script.",
        "python evaluate.py validation_predictions.csv",
    )
    yield reply("The validation accuracy looks good. Let me validate the submission.", "validate")
    yield reply("The submission is valid and beats the baseline, so I submit it.", "submit")
