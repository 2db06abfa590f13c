"""Baseline: MLGym-Bench's Fashion-MNIST baseline recipe, in plain PyTorch.

Network: two 3x3 convolutions (32 and 64 channels, padding 1), each followed by ReLU
and 2x2 max pooling, then one linear layer from the 64x7x7 feature map to 10 classes.
Pixels are scaled to [0, 1]; no normalisation, no augmentation.

Training (the defaults of Hugging Face's Trainer that MLGym's baseline relies on):
10 epochs of shuffled batches of 64, AdamW (learning rate 5e-5, betas 0.9/0.999,
eps 1e-8, weight decay 0.01 on weights but not biases), the learning rate rising
linearly over the first 500 steps and then falling linearly to 0 at the last step,
gradients clipped to norm 1.0, float32, seed 42. After every epoch the loss on the
evaluation images is measured and the epoch with the lowest one is kept. MLGym
evaluates on the test split for that; here the validation images (data/validation.npz)
play that part, so training uses data/train.npz only.

Writes validation_predictions.csv (id,label, for evaluate.py) and submission.csv: one
column `label`, one row per image of data/test_images.npz in order (MLGym's format).
Uses the GPU when there is one.
"""

import copy
import random

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

EPOCHS, BATCH, LR, WARMUP, WEIGHT_DECAY, CLIP, SEED = 10, 64, 5e-5, 500, 0.01, 1.0, 42

random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
device = "cuda" if torch.cuda.is_available() else "cpu"


def load(name):
    with np.load(f"data/{name}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


def as_tensor(images):
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float in [0, 1]."""
    return torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


train, validation, test = load("train"), load("validation"), load("test_images")
x_train, y_train = as_tensor(train["images"]), torch.tensor(train["labels"]).long()
x_val, y_val = as_tensor(validation["images"]), torch.tensor(validation["labels"]).long()

model = Net().to(device)
decay = [p for name, p in model.named_parameters() if not name.endswith("bias")]
no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
optimizer = torch.optim.AdamW(
    [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
    lr=LR, betas=(0.9, 0.999), eps=1e-8,
)
steps_per_epoch = (len(x_train) + BATCH - 1) // BATCH
total_steps = EPOCHS * steps_per_epoch


def lr_factor(step):
    """Linear warm-up over WARMUP steps, then linear decay to 0 at total_steps."""
    if step < WARMUP:
        return step / max(1, WARMUP)
    return max(0.0, (total_steps - step) / max(1, total_steps - WARMUP))


schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


@torch.no_grad()
def logits_of(x):
    model.eval()
    return torch.cat([model(x[i : i + 1000].to(device)).cpu() for i in range(0, len(x), 1000)])


best_loss, best_state, best_epoch = float("inf"), None, 0
generator = torch.Generator().manual_seed(SEED)
for epoch in range(1, EPOCHS + 1):
    model.train()
    order = torch.randperm(len(x_train), generator=generator)
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        loss = F.cross_entropy(model(x_train[batch].to(device)), y_train[batch].to(device))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        schedule.step()
    logits = logits_of(x_val)
    val_loss = F.cross_entropy(logits, y_val).item()
    val_acc = (logits.argmax(1) == y_val).float().mean().item()
    print(f"epoch {epoch}: train loss {loss.item():.4f}, validation loss {val_loss:.4f}, "
          f"accuracy {val_acc:.4f}")
    if val_loss < best_loss:
        best_loss, best_state, best_epoch = val_loss, copy.deepcopy(model.state_dict()), epoch
model.load_state_dict(best_state)
print(f"kept epoch {best_epoch} (lowest validation loss {best_loss:.4f})")

predicted = logits_of(x_val).argmax(1).numpy()
print(f"validation accuracy: {(predicted == validation['labels']).mean():.4f}")
pd.DataFrame({"id": np.arange(len(predicted)), "label": predicted}).to_csv(
    "validation_predictions.csv", index=False
)
predicted = logits_of(as_tensor(test["images"])).argmax(1).numpy()
pd.DataFrame({"label": predicted}).to_csv("submission.csv", index=False)
print(f"wrote submission.csv ({len(predicted)} rows)")
