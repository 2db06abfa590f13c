"""The demo agent of the CIFAR-10 task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would: it
looks at the files and the data's shapes, reads the baseline, writes train.py (a
batch-normalised CNN trained with AdamW and a one-cycle schedule on randomly shifted and
mirrored images, predicting with mirror averaging), runs it, checks the validation
accuracy, validates and submits.
"""

from __future__ import annotations

from harness.models.demo import reply, write_and_run

SOLUTION = '''\
"""Batch-normalised CNN, AdamW with a one-cycle schedule, random shifts and flips,
label smoothing, and predictions averaged over each image and its mirror image."""
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
    return torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0


train, validation, test = load("train"), load("validation"), load("test_images")
x = as_tensor(train["images"]).to(device)
y = torch.tensor(train["labels"]).long().to(device)
if len(x) < 5000:  # small batches of a tiny data set: a second thread costs more than it saves
    torch.set_num_threads(1)
mean = x.mean(dim=(0, 2, 3), keepdim=True)
std = x.std(dim=(0, 2, 3), keepdim=True)


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2))


width = 16 if len(x) < 5000 else 64  # the tiny test data set, or the full one
model = nn.Sequential(block(3, width), block(width, 2 * width), nn.Flatten(), nn.Dropout(0.3),
                      nn.Linear(2 * width * 8 * 8, 10)).to(device)
batch = 64
epochs = 40 if len(x) < 5000 else 15
steps = epochs * ((len(x) + batch - 1) // batch)
optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=5e-4)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=4e-3, total_steps=steps)


def augment(images, pad=4):
    """Random translations of up to `pad` pixels (reflection padding) and horizontal flips."""
    n = len(images)
    padded = F.pad(images, (pad,) * 4, mode="reflect")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), device=images.device)
    rows = (torch.arange(32, device=images.device) + dy[:, None])[:, None, :, None]
    cols = (torch.arange(32, device=images.device) + dx[:, None])[:, None, None, :]
    index = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(3, device=images.device)[None, :, None, None]
    out = padded[index, channel, rows, cols]
    flip = torch.rand(n, device=images.device) < 0.5
    out[flip] = out[flip].flip(3)
    return out


started = time.time()
for epoch in range(epochs):
    model.train()
    order = torch.randperm(len(x), device=device)
    for i in range(0, len(x), batch):
        idx = order[i : i + batch]
        loss = F.cross_entropy(model((augment(x[idx]) - mean) / std), y[idx], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
print(f"trained {epochs} epochs in {time.time() - started:.0f}s, last loss {loss.item():.3f}")


@torch.no_grad()
def predict(images):
    """Average of the predictions for the images and their mirror images."""
    model.eval()
    t = as_tensor(images)
    out = []
    for i in range(0, len(t), 1000):
        chunk = (t[i : i + 1000].to(device) - mean) / std
        out.append((model(chunk).softmax(1) + model(chunk.flip(3)).softmax(1)).argmax(1).cpu().numpy())
    return np.concatenate(out)


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
        "I will add batch normalisation, train longer with AdamW and a one-cycle "
        "learning-rate schedule, and augment the images with random shifts and mirror "
        "images, which do not change the class; at test time I average the predictions "
        "for each image and its mirror image. First I create train.py.",
        "create train.py",
    )
    yield from write_and_run(SOLUTION)
    yield reply(
        "Let me check the validation predictions with the evaluation script.",
        "python evaluate.py validation_predictions.csv",
    )
    yield reply("The validation accuracy looks good. Let me validate the submission.", "validate")
    yield reply("The submission is valid and beats the baseline, so I submit it.", "submit")
