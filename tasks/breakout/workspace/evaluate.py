"""Evaluate a submission as MLGym-Bench does: ``python evaluate.py [--config_fname config.yaml]``.

The submission is ``config.yaml``, five checkpoints ``checkpoints/<config stem>*.pkl``
(``src/train.py`` writes ``config-42-0.pkl`` ... ``config-42-4.pkl``) and the network
code in ``src/`` (``src/networks.py``: ``get_model_ready``, class ``Model``). Each
checkpoint plays 256 environments from each of the keys ``PRNGKey(0)`` ...
``PRNGKey(4)``, for MAX_FRAMES steps, with actions *sampled* from its policy; an
environment's return is the sum of its rewards up to its first episode end. The
metrics are the mean and the standard deviation of those 5 x 5 x 256 returns, printed
as ``{"Reward Mean": ..., "Reward Std": ...}``.

The scorer runs this same code, with one difference of place: your network code runs
in a sandbox of its own, where the policy (network, parameters and sampling) is
compiled into a pure JAX function (``jax.export``); the scorer plays that function in
the environment. This script does the same in one process, so its numbers are the
scorer's. Read-only: edit your copy of anything else.
"""

import base64
import io
import json
import os
import pickle
import sys
from functools import cache, partial
from pathlib import Path

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

ENV_ID = "Breakout-MinAtar"
MAX_FRAMES = 999
NUM_ENVS = 256
SEEDS = tuple(range(5))
NUM_CHECKPOINTS = 5


class CheckpointError(Exception):
    """The submission's files are missing or unusable; the message says which and why."""


def find_checkpoints(workspace, config_name="config.yaml"):
    """The checkpoint files of ``config_name``: exactly NUM_CHECKPOINTS of them."""
    workspace = Path(workspace)
    stem = Path(config_name).stem
    folder = workspace / "checkpoints"
    found = sorted(folder.glob(f"{stem}*.pkl")) if folder.is_dir() else []
    if len(found) != NUM_CHECKPOINTS:
        raise CheckpointError(
            f"expected {NUM_CHECKPOINTS} checkpoint files checkpoints/{stem}*.pkl, found "
            f"{len(found)}: train 5 seeds with src/train.py and copy its config to {config_name}"
        )
    return found


def _load(workspace, config_name, checkpoint):
    """(model, params) of one checkpoint, built by the workspace's src/networks.py."""
    workspace = Path(workspace).resolve()
    if str(workspace) not in sys.path:
        sys.path.insert(0, str(workspace))
    try:
        from src.helpers import load_config
        from src.networks import get_model_ready
    except Exception as err:  # noqa: BLE001 - any failure is the submission's
        raise CheckpointError(f"src/ does not import: {type(err).__name__}: {err}") from None
    try:
        config = load_config(workspace / config_name)
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"{config_name} is not a usable config: {err}") from None
    try:
        with open(checkpoint, "rb") as file:
            params = pickle.load(file)["network"]
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(
            f"checkpoints/{Path(checkpoint).name} is not a checkpoint (a pickled dict with "
            f"a 'network' entry): {type(err).__name__}: {err}"
        ) from None
    try:
        model, _ = get_model_ready(jax.random.PRNGKey(0), config.train_config)
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"src/networks.py get_model_ready failed: {type(err).__name__}: {err}") from None
    return model, params


@cache
def make_env():
    """The environment and its parameters, made once (the compiled rollout is cached
    per environment object)."""
    return gymnax.make(ENV_ID)


def observation_shape():
    env, env_params = make_env()
    return tuple(env.observation_space(env_params).shape)


def export_policy(workspace, config_name, checkpoint, num_envs=NUM_ENVS):
    """The policy of one checkpoint as plain data: ``{"policy": ..., "params": ...}``.

    ``policy`` is a serialized ``jax.export`` function ``(params, obs[num_envs, ...]
    float32, key uint32[2]) -> actions`` and ``params`` the list of its parameter arrays
    as an ``.npz`` file, both base64-encoded: five checkpoints of one architecture share
    one function, compiled once.
    """
    os.chdir(workspace)
    model, params = _load(workspace, config_name, Path(workspace) / "checkpoints" / checkpoint)
    leaves, tree = jax.tree.flatten(params)
    try:
        leaves = [np.asarray(leaf) for leaf in leaves]
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"checkpoints/{checkpoint}: its 'network' entry holds non-arrays: {err}") from None

    def act(leaves, obs, key):
        _, pi = model.apply(jax.tree.unflatten(tree, leaves), obs, rng=None)
        return pi.sample(seed=key)

    specs = (
        [jax.ShapeDtypeStruct(leaf.shape, leaf.dtype) for leaf in leaves],
        jax.ShapeDtypeStruct((num_envs, *observation_shape()), jnp.float32),
        jax.ShapeDtypeStruct((2,), jnp.uint32),
    )
    try:
        blob = jax.export.export(jax.jit(act), platforms=["cpu"])(*specs).serialize()
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(
            f"checkpoints/{checkpoint}: the policy does not compile to a pure JAX function "
            f"(model.apply(params, obs, rng=None)[1].sample(seed=key)): {type(err).__name__}: {err}"
        ) from None
    arrays = io.BytesIO()
    np.savez(arrays, *leaves)
    return {
        "policy": base64.b64encode(blob).decode(),
        "params": base64.b64encode(arrays.getvalue()).decode(),
    }


def read_policy(exported):
    """(act, params) from export_policy's data, read without running any of its code:
    ``act`` is the deserialized function, ``params`` arrays read without pickle."""
    function = jax.export.deserialize(bytearray(base64.b64decode(exported["policy"])))
    with np.load(io.BytesIO(base64.b64decode(exported["params"])), allow_pickle=False) as data:
        params = [data[f"arr_{i}"] for i in range(len(data.files))]
    return function, params


@partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _rollout(env, env_params, act, num_envs, max_frames, params, key):
    """MLGym's protocol: reset num_envs environments from key, play max_frames steps."""

    def step(carry, _):
        obs, state, rng, total, alive = carry
        rng, rng_act = jax.random.split(rng)
        action = act(params, obs, rng_act)
        rng, rng_step = jax.random.split(rng)
        obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(rng_step, num_envs), state, action, env_params
        )
        done = jnp.logical_or(terminated, truncated)  # gymnax >= 1.0 reports them apart
        return (obs, state, rng, total + reward * alive, alive * (1 - done)), None

    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), env_params)
    init = (obs, state, key, jnp.zeros(num_envs), jnp.ones(num_envs))
    carry, _ = jax.lax.scan(step, init, None, length=max_frames)
    return carry[3]


def rollout_returns(act, params, seed, num_envs=NUM_ENVS, max_frames=MAX_FRAMES):
    """Returns of ``num_envs`` environments started from ``PRNGKey(seed)``, with actions
    ``act(params, obs, key)``."""
    env, env_params = make_env()
    key = jax.random.PRNGKey(seed)
    return np.asarray(_rollout(env, env_params, act, num_envs, max_frames, params, key))


def metrics(returns):
    returns = np.concatenate([np.ravel(r) for r in returns])
    return {"Reward Mean": float(np.mean(returns)), "Reward Std": float(np.std(returns))}


def main():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("-config_fname", "--config_fname", default="./config.yaml")
    args, _ = parser.parse_known_args()
    config = Path(args.config_fname)
    workspace = Path.cwd()
    try:
        if not config.is_file():
            raise CheckpointError(f"{config} not found: copy the config you trained with there")
        returns, compiled = [], {}
        for checkpoint in find_checkpoints(workspace, config.name):
            exported = export_policy(workspace, os.path.relpath(config, workspace), checkpoint.name)
            function, params = read_policy(exported)
            act = compiled.setdefault(exported["policy"], function.call)
            returns += [rollout_returns(act, params, seed) for seed in SEEDS]
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None
    print(json.dumps(metrics(returns)))


if __name__ == "__main__":
    main()
