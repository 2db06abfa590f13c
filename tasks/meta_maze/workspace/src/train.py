"""Train the PPO baseline: five checkpoints, one per network initialisation.

``python src/train.py [-config src/config.yaml]`` writes
``checkpoints/<config stem>-42-<i>.pkl`` for i = 0..4 (the layout evaluate.py and the
scorer read) and prints the last evaluation return of each. Copy the config you
trained with to ``config.yaml`` in the workspace root: it is part of the submission.
"""

import os
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import load_config, save_pkl_object  # noqa: E402
from networks import get_model_ready  # noqa: E402
from policy import train_ppo  # noqa: E402


def main(config, mle_log, ckpt_dir, log_ext=""):
    """Train five models from one training key and five initialisation keys."""
    rewards = []
    keys = jax.random.split(jax.random.PRNGKey(config["seed_id"]), 6)
    rng, init_keys = keys[0], keys[1:]
    for i, rng_init in enumerate(init_keys):
        model, params = get_model_ready(rng_init, config)
        log_steps, log_return, network = train_ppo(rng, config, model, params, mle_log)
        os.makedirs(ckpt_dir, exist_ok=True)
        save_pkl_object(
            {
                "log_steps": log_steps,
                "log_return": log_return,
                "network": network,
                "train_config": config.toDict(),
            },
            f"{ckpt_dir}/{log_ext}-{i}.pkl",
        )
        rewards.append(log_return[-1])
    return rewards


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("-config", "--config_fname", type=str, default="./src/config.yaml")
    args, _ = parser.parse_known_args()
    SEED = 42  # the training seed of MLGym-Bench's baseline
    config = load_config(args.config_fname, SEED)
    log_ext = f"{Path(args.config_fname).stem}-{SEED}"
    rewards = main(config.train_config, mle_log=None, ckpt_dir="./checkpoints", log_ext=log_ext)
    print(f"rewards: {rewards}")
    print(f"average reward: {np.mean(rewards)}")
