"""Validation loss of a saved model: ``python evaluate.py [FOLDER]``.

Reads MLGym-Bench's submission from FOLDER (default: here): ``model.pt`` (a state
dict saved with torch.save) and ``model_config.pt`` (a pickled config), rebuilt as
MLGym's evaluate.py does: ``Model(config)`` from ``baseline.py`` with the state dict
loaded (a ``module._orig_mod.`` prefix, as DDP and torch.compile leave, removed).
Instead, a ``model.pt2`` (a torch.export program taking token ids (batch, 1024) and
returning logits) is taken when there is no model.pt.

The model is called as ``model(idx, targets, return_logits=True)`` and its logits
(batch, 1024, V >= 50,257) used; targets are zeros, so a model cannot see the next
tokens through them. Prints {"val_loss": ...}: the mean cross-entropy in nats of
predicting each token of data/validation.bin from the ones before it, in sequences of
1,024 tokens. The harness scores the same way on hidden FineWeb tokens: it turns your
model into a torch.export program in a sandbox of its own and refuses a model whose
predictions change when later tokens change.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np

SEQ_LEN, GPT2_VOCAB, HEADER = 1024, 50257, 256
FIX = "run baseline.py, which saves model.pt and model_config.pt"
CHUNK = 16 << 20  # bytes of the exported program per message from the export sandbox


class SubmissionError(Exception):
    """The model cannot be evaluated; the message says why."""


def load_tokens(path: Path) -> np.ndarray:
    header = np.fromfile(path, dtype="<i4", count=HEADER)
    return np.memmap(path, dtype="<u2", mode="r", offset=HEADER * 4, shape=(int(header[2]),))


def first_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


# -- MLGym's form: model.pt + model_config.pt + baseline.py's Model ----------------------


def load_mlgym_model(folder: Path):
    """``Model(config)`` with its weights, as MLGym-Bench's evaluate.py builds it. Runs
    the submission's baseline.py (the scorer does this only in a sandbox of its own)."""
    import torch

    folder = Path(folder).resolve()
    for name in ("model.pt", "model_config.pt", "baseline.py"):
        if not (folder / name).is_file():
            raise SubmissionError(f"{name} not found: {FIX} (the scorer imports Model from baseline.py)")
    sys.path.insert(0, str(folder))
    try:
        import baseline
    except BaseException as err:  # noqa: BLE001 - any failure is the submission's
        raise SubmissionError(f"baseline.py fails to import ({first_line(err)})") from None
    finally:
        sys.path.remove(str(folder))
    if not hasattr(baseline, "Model"):
        raise SubmissionError("baseline.py defines no class Model: the scorer builds Model(config)")
    import __main__

    if hasattr(baseline, "ModelConfig"):  # a config pickled by `python baseline.py`
        __main__.ModelConfig = baseline.ModelConfig
    try:
        with open(folder / "model_config.pt", "rb") as f:
            config = pickle.load(f)
    except BaseException as err:  # noqa: BLE001
        raise SubmissionError(f"model_config.pt is not a pickled config ({first_line(err)}): {FIX}") from None
    try:
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    except BaseException as err:  # noqa: BLE001
        raise SubmissionError(f"model.pt is not a saved state dict ({first_line(err)}): {FIX}") from None
    if not isinstance(state, dict):
        raise SubmissionError(f"model.pt holds a {type(state).__name__}, not a state dict: {FIX}")
    state = {str(k).replace("module._orig_mod.", ""): v for k, v in state.items()}
    try:
        model = baseline.Model(config)
        model.load_state_dict(state)
    except BaseException as err:  # noqa: BLE001
        raise SubmissionError(
            f"Model(config) from baseline.py does not take model.pt ({first_line(err)})"
        ) from None
    return model.float().eval()


def export_model(model):
    """The model as a torch.export program: token ids (batch, 1024) -> logits."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, idx):
            out = self.inner(idx, torch.zeros_like(idx), return_logits=True)
            return out[0] if isinstance(out, (tuple, list)) else out

    example = torch.zeros(2, SEQ_LEN, dtype=torch.long)
    try:
        with torch.no_grad():
            return torch.export.export(
                Logits(model).eval(), (example,), dynamic_shapes={"idx": {0: torch.export.Dim("batch")}}
            )
    except BaseException as err:  # noqa: BLE001
        raise SubmissionError(
            f"the model does not export with torch.export, which the scorer runs it with "
            f"({first_line(err)})"
        ) from None


_EXPORTED: list = []


def export_submission(folder: str) -> int:
    """Run in the scorer's export sandbox: build the submitted model, export it and
    keep the saved program; returns its number of chunks (see export_chunk)."""
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.chdir(folder)
    buffer = io.BytesIO()
    torch.export.save(export_model(load_mlgym_model(Path(folder))), buffer)
    blob = buffer.getbuffer()  # views, not copies: a 124M-parameter model is 650 MB
    _EXPORTED[:] = [blob[i : i + CHUNK] for i in range(0, len(blob), CHUNK)]
    return len(_EXPORTED)


def export_chunk(index: int) -> str:
    """Chunk ``index`` of the saved program, base64-encoded."""
    return base64.b64encode(_EXPORTED[index]).decode()


# -- the exported program ----------------------------------------------------------------


def load_program(source, name: str = "model.pt2"):
    """(module, batch size) of a torch.export program (a path or a file object)."""
    import torch

    if isinstance(source, Path) and not source.is_file():
        raise SubmissionError(f"model.pt not found: {FIX} (or save a torch.export program as model.pt2)")
    try:
        program = torch.export.load(source if not isinstance(source, Path) else str(source))
    except Exception as err:  # noqa: BLE001 - any failure is the submission's
        raise SubmissionError(f"{name} is not a torch.export program ({first_line(err)})") from None
    inputs = [n for n in program.graph.nodes if n.op == "placeholder"]
    user = program.graph_signature.user_inputs
    if len(user) != 1:
        raise SubmissionError(f"{name} takes {len(user)} inputs; it must take one tensor of token ids")
    shape = next(n for n in inputs if n.name == user[0]).meta["val"].shape
    batch = shape[0] if isinstance(shape[0], int) else 4
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != SEQ_LEN):
        raise SubmissionError(f"{name} takes input of shape {tuple(shape)}; expected (batch, {SEQ_LEN})")
    return program.module(), batch


def logits_of(model, batch, name: str):
    import torch

    try:
        out = model(batch)
    except Exception as err:  # noqa: BLE001
        raise SubmissionError(f"{name} failed on a batch of token ids: {first_line(err)}") from None
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.dim() != 3 or out.shape[:2] != batch.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SubmissionError(f"{name} returned {shape}; expected logits (batch, {SEQ_LEN}, vocab)")
    if out.shape[2] < GPT2_VOCAB:
        raise SubmissionError(f"{name} returns {out.shape[2]} logits per token; GPT-2 has {GPT2_VOCAB}")
    return out.float()


def check_causal(model, sequences, logits, name: str) -> None:
    """Predictions for the first half may not change when the second half changes."""
    import torch

    half = SEQ_LEN // 2
    changed = sequences.clone()
    changed[:, half:] = (changed[:, half:] + 1) % GPT2_VOCAB
    second = logits_of(model, changed, name)
    if not torch.allclose(logits[:, :half], second[:, :half], atol=1e-3, rtol=1e-3):
        raise SubmissionError(
            f"{name} is not causal: its predictions at a position depend on later tokens"
        )


def mean_loss(model, batch_size: int, tokens: np.ndarray, name: str = "the model") -> float:
    """Mean cross-entropy over the sequences of 1,024 tokens (+1 target) in ``tokens``."""
    import torch
    import torch.nn.functional as F

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device)
    count = (len(tokens) - 1) // SEQ_LEN
    total, seen = 0.0, 0
    with torch.no_grad():
        for start in range(0, count, batch_size):
            rows = range(start, min(start + batch_size, count))
            if len(rows) < batch_size:  # a static batch size: pad with the first rows
                rows = list(rows) + list(range(batch_size - len(rows)))
            chunk = np.stack([tokens[r * SEQ_LEN : r * SEQ_LEN + SEQ_LEN + 1] for r in rows])
            chunk = torch.from_numpy(chunk.astype(np.int64)).to(device)
            logits = logits_of(model, chunk[:, :-1], name)
            if start == 0:
                check_causal(model, chunk[:, :-1], logits, name)
            keep = min(batch_size, count - start)
            vocab = logits.shape[2]
            total += F.cross_entropy(
                logits[:keep].reshape(-1, vocab), chunk[:keep, 1:].reshape(-1), reduction="sum"
            ).item()
            seen += keep * SEQ_LEN
    loss = total / seen
    if not np.isfinite(loss):
        raise SubmissionError(f"{name} gives a non-finite loss (NaN or infinite logits)")
    return loss


def main(folder: str) -> None:
    root = Path(folder)
    try:
        if (root / "model.pt").is_file() or not (root / "model.pt2").is_file():
            program = export_model(load_mlgym_model(root))
            model, batch, name = program.module(), 4, "the model"
        else:
            (model, batch), name = load_program(root / "model.pt2"), "model.pt2"
        loss = mean_loss(model, batch, load_tokens(Path("data/validation.bin")), name)
    except SubmissionError as err:
        sys.exit(str(err))
    print(json.dumps({"val_loss": round(loss, 6)}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
