"""Baseline: MLGym-Bench's captioning baseline (a frozen ImageNet ResNet-50 and an LSTM).

Vocabulary: the training captions lower-cased and split by nltk's word_tokenize; words
seen at least 5 times, plus <PAD> 0, <SOS> 1, <EOS> 2 and <UNK> 3.
Encoder: the pre-trained ResNet-50 of data/resnet50-0676ba61.pth with its weights frozen
(its batch-norm layers stay in training mode while training, as in MLGym's baseline),
pooled features -> linear layer to 256 -> batch norm (momentum 0.01).
Decoder: word embeddings of 256, a one-layer LSTM of 512, a linear layer to the
vocabulary; the image feature is the first input step, then <SOS> and the caption's
words, and the outputs are trained to read <SOS>, the words and <EOS>.
Training: images resized to 224x224 and normalised with ImageNet's mean and deviation;
each time an image is drawn, one of its captions at random; 2 epochs of shuffled
batches of 128; cross-entropy ignoring padding; Adam at 1e-3 on the decoder and the
encoder's linear and batch-norm layers; seed 42.
Captions: greedy decoding of at most 30 tokens, special tokens dropped, words joined by
spaces.

Writes validation_predictions.csv (for evaluate.py) and submission.csv: image_id,caption
for every image of data/test_images.csv. Uses the GPU when there is one.
"""

import random
from collections import Counter

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from nltk.tokenize import word_tokenize
from PIL import Image
from resnet import resnet50_from
from torch.nn.utils.rnn import pack_padded_sequence

EMBED, HIDDEN, LR, EPOCHS, BATCH, MIN_COUNT, MAX_LEN, SEED = 256, 512, 1e-3, 2, 128, 5, 30, 42
PAD, SOS, EOS, UNK = 0, 1, 2, 3
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)

random.seed(SEED)
np.random.seed(SEED)
torch.manual_seed(SEED)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def words(text):
    return word_tokenize(text.lower(), preserve_line=True)


train = pd.read_csv("data/train_captions.csv", keep_default_na=False)
validation = pd.read_csv("data/validation_captions.csv", keep_default_na=False)
test = pd.read_csv("data/test_images.csv")

counts = Counter(w for caption in train["caption"] for w in words(caption))
itos = ["<PAD>", "<SOS>", "<EOS>", "<UNK>"] + [w for w, n in counts.items() if n >= MIN_COUNT]
stoi = {w: i for i, w in enumerate(itos)}
print(f"vocabulary: {len(itos)} tokens")


def image(folder, name):
    with Image.open(f"data/images/{folder}/{name}") as img:
        pixels = np.asarray(img.convert("RGB").resize((224, 224), Image.BILINEAR))
    return (torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0 - MEAN) / STD


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet = resnet50_from("data/resnet50-0676ba61.pth")
        for p in self.resnet.parameters():
            p.requires_grad = False
        self.linear = nn.Linear(self.resnet.out_features, EMBED)
        self.bn = nn.BatchNorm1d(EMBED, momentum=0.01)

    def forward(self, images):
        return self.bn(self.linear(self.resnet.features(images)))


class Decoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, 1, batch_first=True)
        self.linear = nn.Linear(HIDDEN, vocab)

    def forward(self, features, captions, lengths):
        inputs = torch.cat([features.unsqueeze(1), self.embed(captions)], 1)
        hidden, _ = self.lstm(pack_padded_sequence(inputs, lengths, batch_first=True))
        return self.linear(hidden.data)

    @torch.no_grad()
    def greedy(self, feature):
        ids, inputs, state = [], feature.view(1, 1, -1), None
        for _ in range(MAX_LEN):
            hidden, state = self.lstm(inputs, state)
            token = self.linear(hidden[:, -1]).argmax(1)
            ids.append(token.item())
            if ids[-1] == EOS:
                break
            inputs = self.embed(token).unsqueeze(1)
        return " ".join(itos[i] for i in ids if i > UNK)


groups = train.groupby("file_name", sort=False)["caption"].apply(list)
files, captions_of = list(groups.index), list(groups)
encoder, decoder = Encoder().to(device), Decoder(len(itos)).to(device)
params = [*decoder.parameters(), *encoder.linear.parameters(), *encoder.bn.parameters()]
optimizer = torch.optim.Adam(params, lr=LR)
loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

for epoch in range(EPOCHS):
    encoder.train()
    decoder.train()
    order = np.random.permutation(len(files))
    for start in range(0, len(order), BATCH):
        batch = []
        for i in order[start : start + BATCH]:
            tokens = [SOS, *(stoi.get(w, UNK) for w in words(random.choice(captions_of[i]))), EOS]
            batch.append((image("train", files[i]), tokens))
        batch.sort(key=lambda item: len(item[1]), reverse=True)
        lengths = [len(tokens) for _, tokens in batch]
        captions = torch.zeros(len(batch), max(lengths), dtype=torch.long)
        for row, (_, tokens) in enumerate(batch):
            captions[row, : len(tokens)] = torch.tensor(tokens)
        images, captions = torch.stack([img for img, _ in batch]).to(device), captions.to(device)
        targets = pack_padded_sequence(captions, lengths, batch_first=True).data
        loss = loss_fn(decoder(encoder(images), captions, lengths), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")


def caption(folder, names):
    encoder.eval()
    decoder.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(names), BATCH):
            chunk = names[start : start + BATCH]
            features = encoder(torch.stack([image(folder, n) for n in chunk]).to(device))
            out += [decoder.greedy(f) for f in features]
    return out


val_images = validation.drop_duplicates("image_id")
pd.DataFrame({"image_id": val_images["image_id"],
              "caption": caption("validation", list(val_images["file_name"]))}).to_csv(
    "validation_predictions.csv", index=False)
pd.DataFrame({"image_id": test["image_id"], "caption": caption("test", list(test["file_name"]))}).to_csv(
    "submission.csv", index=False)
print("wrote submission.csv")
