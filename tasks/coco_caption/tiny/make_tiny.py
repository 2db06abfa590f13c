"""Write the tiny stand-in data set beside this file (``python tiny/make_tiny.py``).

Three archives laid out as the real COCO 2014 downloads: ``train2014.zip``
(``train2014/COCO_train2014_000000xxxxxx.jpg``, 100 images), ``val2014.zip``
(``val2014/COCO_val2014_...``, 40 images) and ``annotations_trainval2014.zip``
(``annotations/captions_train2014.json`` and ``annotations/captions_val2014.json`` in
COCO's caption format, five captions per image), and ``resnet50-0676ba61.pth``: a
ResNet-50 state dict in torchvision's format but 16 times narrower (base width 4),
random weights, standing in for torchvision's ImageNet checkpoint of that name. The images are 48x48 JPEGs of one coloured shape on a coloured background and
the captions name them, so a small captioner learns them in seconds. Deterministic
(needs Pillow and torch); the committed files are what task.yaml's sha256s name.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent
WEIGHTS = "resnet50-0676ba61.pth"
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (40, 60, 220),
    "yellow": (235, 215, 40),
}
BACKGROUNDS = {"white": (245, 245, 245), "black": (15, 15, 15), "grey": (128, 128, 128)}
SHAPES = ["circle", "square", "triangle"]
TEMPLATES = [
    "a {c} {s} on a {b} background.",
    "a {c} {s}.",
    "there is a {c} {s} in the picture.",
    "a picture of a {c} {s} on {b}.",
    "a {s} that is {c}.",
]


def draw(rng: random.Random) -> tuple[bytes, dict]:
    colour, background, shape = (
        rng.choice(list(COLOURS)),
        rng.choice(list(BACKGROUNDS)),
        rng.choice(SHAPES),
    )
    image = Image.new("RGB", (48, 48), BACKGROUNDS[background])
    size = rng.randint(16, 30)
    x, y = rng.randint(2, 46 - size), rng.randint(2, 46 - size)
    pen = ImageDraw.Draw(image)
    box = (x, y, x + size, y + size)
    if shape == "circle":
        pen.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        pen.rectangle(box, fill=COLOURS[colour])
    else:
        pen.polygon([(x, y + size), (x + size, y + size), (x + size // 2, y)], fill=COLOURS[colour])
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), {"c": colour, "b": background, "s": shape}


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2014, 1, 1, 0, 0, 0)), data)
    path.write_bytes(buffer.getvalue())


def split(rng: random.Random, name: str, count: int, first_id: int) -> tuple[dict, dict]:
    members, images, annotations = {}, [], []
    for image_id in range(first_id, first_id + count * 7, 7):
        data, facts = draw(rng)
        file_name = f"COCO_{name}_{image_id:012d}.jpg"
        members[f"{name}/{file_name}"] = data
        images.append(
            {"license": 1, "file_name": file_name, "height": 48, "width": 48, "id": image_id}
        )
        for template in TEMPLATES:
            annotations.append(
                {
                    "image_id": image_id,
                    "id": 100_000 + len(annotations) + first_id,
                    "caption": template.format(**facts).capitalize(),
                }
            )
    captions = {
        "info": {"description": "tiny stand-in for COCO 2014 captions"},
        "licenses": [{"id": 1, "name": "CC0", "url": ""}],
        "images": images,
        "annotations": annotations,
    }
    return members, captions


def write_weights(path: Path) -> None:
    """A narrow random ResNet-50 in torchvision's state-dict format."""
    import sys

    import torch

    sys.path.insert(0, str(OUT.parent / "workspace"))
    from resnet import ResNet50

    torch.manual_seed(0)
    model = ResNet50(base=4)
    for module in model.modules():  # statistics a trained network would have
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.fill_(1.0)
    torch.save(model.state_dict(), path)


def main() -> None:
    rng = random.Random(2014)
    train, train_captions = split(rng, "train2014", 100, 9)
    val, val_captions = split(rng, "val2014", 40, 5)
    write_zip(OUT / "train2014.zip", train)
    write_zip(OUT / "val2014.zip", val)
    write_zip(
        OUT / "annotations_trainval2014.zip",
        {
            "annotations/captions_train2014.json": json.dumps(train_captions).encode(),
            "annotations/captions_val2014.json": json.dumps(val_captions).encode(),
        },
    )
    write_weights(OUT / WEIGHTS)
    for path in sorted([*OUT.glob("*.zip"), OUT / WEIGHTS]):
        print(path.name, path.stat().st_size)


if __name__ == "__main__":
    main()
