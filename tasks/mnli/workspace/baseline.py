"""Baseline: fine-tune bert-base-uncased on MNLI for one epoch.

Premise and hypothesis go through BERT as one pair ([CLS] premise [SEP] hypothesis
[SEP], at most 128 tokens; as in MLGym's baseline, token ids and attention mask only,
so both sentences have BERT's first segment embedding); a linear layer on the [CLS] output gives the three
classes (0 entailment, 1 neutral, 2 contradiction). The settings of the MLGym-Bench
baseline, which leave a lot of room: AdamW as transformers' old AdamW class sets it
(learning rate 1e-7, betas 0.9/0.999, eps 1e-6, no weight decay), batch size 32,
shuffled, one epoch over data/train.csv, no schedule, and on a GPU float16 autocast
with a gradient scaler. The model is also saved to bert_mnli_model/ with
save_pretrained, as MLGym's baseline does.

Writes validation_predictions.csv (for evaluate.py) and submission.csv (id,label for
every pair of data/test.csv). Uses a GPU when there is one.
"""

import numpy as np
import pandas as pd
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

MODEL_DIR = "data/bert-base-uncased"
MAX_LENGTH = 128
BATCH_SIZE = 32
LEARNING_RATE = 1e-7
EPOCHS = 1

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
train = pd.read_csv("data/train.csv")
validation = pd.read_csv("data/validation.csv")
test = pd.read_csv("data/test.csv")

tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR, num_labels=3).to(device)


def batches(frame, shuffle=False):
    """Tokenized batches of a split (with labels when it has them)."""
    order = np.random.default_rng(0).permutation(len(frame)) if shuffle else np.arange(len(frame))
    for start in range(0, len(frame), BATCH_SIZE):
        rows = frame.iloc[order[start : start + BATCH_SIZE]]
        inputs = tokenizer(
            list(rows["premise"]),
            list(rows["hypothesis"]),
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
            return_token_type_ids=False,  # MLGym's baseline passes ids and mask only
        ).to(device)
        if "label" in rows:
            inputs["labels"] = torch.tensor(rows["label"].to_numpy(), device=device)
        yield inputs


def predict(frame):
    model.eval()
    out = []
    with torch.no_grad():
        for inputs in batches(frame.drop(columns=["label"], errors="ignore")):
            out.append(model(**inputs).logits.argmax(-1).cpu())
    return torch.cat(out).numpy()


optimizer = torch.optim.AdamW(
    model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0
)
mixed = device.type == "cuda"  # MLGym: torch.amp autocast and GradScaler
scaler = torch.amp.GradScaler("cuda", enabled=mixed)
for epoch in range(EPOCHS):
    model.train()
    for step, inputs in enumerate(batches(train, shuffle=True)):
        optimizer.zero_grad()
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=mixed):
            loss = model(**inputs).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if step % 500 == 0:
            print(f"epoch {epoch + 1} step {step}: loss {loss.item():.4f}")

predicted = predict(validation)
print(f"validation accuracy: {100 * (predicted == validation['label'].to_numpy()).mean():.2f}%")
pd.DataFrame({"id": validation["id"], "label": predicted}).to_csv(
    "validation_predictions.csv", index=False
)
pd.DataFrame({"id": test["id"], "label": predict(test)}).to_csv("submission.csv", index=False)
model.save_pretrained("bert_mnli_model")
print("wrote submission.csv")
