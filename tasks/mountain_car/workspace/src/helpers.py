"""Config and checkpoint files of the PPO baseline (MLGym-Bench's layout).

A config is a YAML file with a ``train_config`` mapping; it is read into a DotMap so
that code can say ``config.train_config.lr_begin``. A checkpoint is a pickle of a dict
whose ``network`` entry holds the flax parameters.
"""

import pickle
import re
from pathlib import Path

import yaml
from dotmap import DotMap

# YAML 1.1 reads "6e-04" (no dot) as a string; numbers of that shape are floats here.
_FLOAT = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?$")


def _numbers(value):
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    if isinstance(value, str) and value.strip() and _FLOAT.match(value.strip()):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_config(config_fname, seed_id=0, lrate=None):
    """The config file as a DotMap, with ``train_config.seed_id`` set to ``seed_id``
    (and both learning rates set to ``lrate`` when given)."""
    with open(config_fname) as file:
        raw = yaml.safe_load(file)
    if not isinstance(raw, dict) or not isinstance(raw.get("train_config"), dict):
        raise ValueError(f"{config_fname}: expected a mapping with a 'train_config' mapping")
    config = _numbers(raw)
    config["train_config"]["seed_id"] = seed_id
    if lrate is not None:
        config["train_config"]["lr_begin"] = lrate
        config["train_config"]["lr_end"] = lrate
    return DotMap(config)


def save_pkl_object(obj, filename):
    """Pickle ``obj`` to ``filename``, creating its directory."""
    path = Path(filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(obj, file, pickle.HIGHEST_PROTOCOL)
    print(f"Stored data at {filename}.")


def load_pkl_object(filename):
    """Unpickle ``filename`` (only ever a file you wrote yourself: pickles run code)."""
    with open(filename, "rb") as file:
        return pickle.load(file)
