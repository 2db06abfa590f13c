"""The demo agent of this RL task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would: it looks
at the files, writes a small-budget copy of the baseline's config as config.yaml (the
submission's config), trains the five checkpoints with the baseline's src/train.py,
checks them with evaluate.py, validates and submits. The budget is tiny (seconds of CPU),
so the score is a demonstration of the interface, not of learning.
``agent(task_dir)`` is a generator: it yields reply texts and receives each observation
through ``.send()``.
"""

from __future__ import annotations

from harness.models.demo import reply

SMALL = {
    "num_train_steps": 4096,
    "evaluate_every_epochs": 1000,
    "num_test_rollouts": 16,
    "num_train_envs": 16,
    "n_steps": 31,
    "n_minibatch": 4,
    "num_hidden_units": 64,
    "num_hidden_layers": 2,
}

MAKE_CONFIG = f"""python - <<'PYEOF'
import yaml
config = yaml.safe_load(open("src/config.yaml"))
small = {SMALL!r}
train = config["train_config"]
for key, value in small.items():
    (train["network_config"] if key.startswith("num_hidden") else train)[key] = value
yaml.safe_dump(config, open("config.yaml", "w"), sort_keys=False)
print(open("config.yaml").read())
PYEOF"""


def agent(task_dir):
    yield reply("Let me start by looking at the files in the workspace.", "ls -la . src")
    yield reply("The baseline's hyperparameters come first.", "cat src/config.yaml")
    yield reply(
        "The baseline trains for millions of steps; I have a few seconds of CPU. I write a "
        "copy of the config with a tiny budget and a smaller network as config.yaml, which "
        "is also the config the submission needs.",
        MAKE_CONFIG,
    )
    yield reply(
        "Now I train the five checkpoints with the baseline's training script.",
        "python src/train.py -config config.yaml",
    )
    yield reply("Let me evaluate them as the scorer will.", "python evaluate.py")
    yield reply("Let me validate the submission.", "validate")
    yield reply("The submission is valid, so I submit it.", "submit")
