"""The demo agent of the captioning task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would: it
looks at the files, reads the baseline, writes train.py (the same captioner trained
for more epochs at a higher learning rate, wider on the full data), runs it, checks
the validation BLEU with evaluate.py, validates and submits. ``agent(task_dir)`` is a
generator: it yields reply texts and receives each observation through ``.send()``.
"""

from __future__ import annotations

from harness.models.demo import reply, write_and_run

SOLUTION = '''\
"""Captioner trained longer with a higher learning rate (and a wider network on full data)."""

import re
from collections import Counter

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from bleu import mean_score
from PIL import Image

SIZE, MAX_WORDS, BATCH_SIZE, LEARNING_RATE = 64, 20, 64, 3e-3
PAD, START, END, UNKNOWN = 0, 1, 2, 3


def words(text):
    return re.findall(r"[a-z0-9]+|[^\\sa-z0-9]", text.lower())


def load_images(folder, file_names):
    out = np.zeros((len(file_names), 3, SIZE, SIZE), dtype=np.uint8)
    for i, name in enumerate(file_names):
        with Image.open(f"data/images/{folder}/{name}") as image:
            out[i] = np.asarray(image.convert("RGB").resize((SIZE, SIZE))).transpose(2, 0, 1)
    return torch.from_numpy(out)


class Captioner(nn.Module):
    def __init__(self, vocab_size, width=256):
        super().__init__()
        layers, channels = [], 3
        for out in (width // 8, width // 4, width // 2, width):
            layers += [
                nn.Conv2d(channels, out, 3, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = out
        self.encoder = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Embedding(vocab_size, width, padding_idx=PAD)
        self.gru = nn.GRU(width, width, batch_first=True)
        self.out = nn.Linear(width, vocab_size)

    def forward(self, images, tokens):
        state = self.encoder(images.float() / 255.0)[None]
        hidden, _ = self.gru(self.embed(tokens), state)
        return self.out(hidden)

    @torch.no_grad()
    def generate(self, images):
        state = self.encoder(images.float() / 255.0)[None]
        token = torch.full((len(images), 1), START, dtype=torch.long, device=images.device)
        out = []
        for _ in range(MAX_WORDS):
            hidden, state = self.gru(self.embed(token), state)
            token = self.out(hidden).argmax(-1)
            out.append(token)
        return torch.cat(out, 1).tolist()


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train = pd.read_csv("data/train_captions.csv")
    validation = pd.read_csv("data/validation_captions.csv")
    test = pd.read_csv("data/test_images.csv")
    counts = Counter(w for caption in train["caption"] for w in words(caption))
    minimum = 5 if len(train) > 10_000 else 1
    vocab = ["<pad>", "<start>", "<end>", "<unk>"] + sorted(
        w for w, c in counts.items() if c >= minimum
    )
    index = {w: i for i, w in enumerate(vocab)}

    images = train.drop_duplicates("image_id")
    pixels = load_images("train", list(images["file_name"]))
    row_of = {image_id: i for i, image_id in enumerate(images["image_id"])}
    rows = torch.tensor([row_of[i] for i in train["image_id"]])
    tokens = torch.zeros((len(train), MAX_WORDS + 2), dtype=torch.long)
    for i, caption in enumerate(train["caption"]):
        ids = [START] + [index.get(w, UNKNOWN) for w in words(caption)][:MAX_WORDS] + [END]
        tokens[i, : len(ids)] = torch.tensor(ids)

    small = len(train) < 10_000
    epochs, width = (6, 64) if small else (8, 512)
    model = Captioner(len(vocab), width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_of = nn.CrossEntropyLoss(ignore_index=PAD)
    generator = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(train), generator=generator).split(BATCH_SIZE):
            x, y = pixels[rows[batch]].to(device), tokens[batch].to(device)
            logits = model(x, y[:, :-1])
            loss = loss_of(logits.reshape(-1, len(vocab)), y[:, 1:].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")

    def caption(folder, frame):
        model.eval()
        texts = []
        for start in range(0, len(frame), 256):
            part = frame.iloc[start : start + 256]
            x = load_images(folder, list(part["file_name"])).to(device)
            for ids in model.generate(x):
                ids = ids[: ids.index(END)] if END in ids else ids
                texts.append(" ".join(vocab[i] for i in ids if i > UNKNOWN))
        return pd.DataFrame({"image_id": frame["image_id"].to_numpy(), "caption": texts})

    seen = validation.drop_duplicates("image_id")
    predicted = caption("validation", seen)
    refs = pd.read_csv("data/validation_references.csv", keep_default_na=False)
    references = refs.groupby("image_id")["reference"].apply(list)
    bleu = mean_score(list(predicted["caption"]), [references[i] for i in predicted["image_id"]])
    print(f"validation BLEU: {bleu:.4f}")
    predicted.to_csv("validation_predictions.csv", index=False)
    caption("test", test).to_csv("submission.csv", index=False)
    print("wrote submission.csv")


if __name__ == "__main__":
    main()
'''


def agent(task_dir):
    yield reply("Let me start by looking at the files in the workspace.", "ls -la data")
    yield reply("Let me look at the training captions.", "head -6 data/train_captions.csv")
    yield reply("Let me read the baseline to see the model and its training.", "cat baseline.py")
    yield reply(
        "The baseline trains for only two epochs at learning rate 1e-3, so its captions "
        "are still generic. I will train the same captioner longer with a higher learning "
        "rate, and wider on the full data. First I create train.py.",
        "create train.py",
    )
    yield from write_and_run(SOLUTION)
    yield reply(
        "Let me check the validation captions with the evaluation script.",
        "python evaluate.py validation_predictions.csv",
    )
    yield reply("The validation BLEU improved. Let me validate the submission.", "validate")
    yield reply("The submission is valid and beats the baseline, so I submit it.", "submit")
