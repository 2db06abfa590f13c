"""PPO for gymnax environments: the baseline's learning algorithm.

The algorithm and settings of MLGym-Bench's baseline (itself from gymnax-blines):
``num_train_envs`` environments step in lockstep; every ``n_steps + 1`` steps the
policy is updated on the first ``n_steps`` of them with generalised advantage
estimates (``gamma``, ``gae_lambda``), for ``epoch_ppo`` epochs of ``n_minibatch``
minibatches: clipped policy ratio and clipped value loss (both ``clip_eps``),
advantages normalised per minibatch, an entropy bonus (``entropy_coeff``), the value
loss weighted by ``critic_coeff``; Adam (eps 1e-5) after clipping the gradient's
global norm to ``max_grad_norm``, its step size going linearly from ``lr_begin`` to
``lr_end`` over ``num_train_steps * lr_warmup`` updates. Every
``evaluate_every_epochs`` steps the policy plays ``num_test_rollouts`` whole
episodes (sampled actions) and their mean return is logged.

Each update (collecting the steps and learning from them) is one compiled function.
"""

from functools import cache

import gymnax
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

ENV_ID = "Breakout-MinAtar"


def _act(train_state, params, obs, rng):
    """Sampled action, its log-probability and the value estimate."""
    value, pi = train_state.apply_fn(params, obs, rng=None)
    action = pi.sample(seed=rng)
    return action, pi.log_prob(action), value[:, 0]


def _gae(values, rewards, dones, gamma, lam):
    """Advantages and value targets of ``n_steps`` steps, bootstrapped from the value
    of the step after them (``values`` has one row more than ``rewards``)."""

    def back(gae, t):
        value, next_value, reward, done = t
        delta = reward + gamma * next_value * (1 - done) - value
        gae = delta + gamma * lam * (1 - done) * gae
        return gae, gae

    _, adv = jax.lax.scan(
        back, jnp.zeros_like(rewards[0]), (values[:-1], values[1:], rewards, dones), reverse=True
    )
    return adv, adv + values[:-1]


def _loss(params, train_state, batch, clip_eps, critic_coeff, entropy_coeff):
    obs, action, log_pi_old, value_old, target, gae = batch
    value, pi = train_state.apply_fn(params, obs, rng=None)
    value = value[:, 0]
    log_pi = pi.log_prob(action)
    value_clipped = value_old + jnp.clip(value - value_old, -clip_eps, clip_eps)
    value_loss = 0.5 * jnp.maximum(
        jnp.square(value - target), jnp.square(value_clipped - target)
    ).mean()
    ratio = jnp.exp(log_pi - log_pi_old)
    gae = (gae - gae.mean()) / (gae.std() + 1e-8)
    actor_loss = -jnp.minimum(
        ratio * gae, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * gae
    ).mean()
    entropy = pi.entropy().mean()
    return actor_loss + critic_coeff * value_loss - entropy_coeff * entropy


def make_update(env, env_params, config):
    """The compiled update: ``n_steps + 1`` environment steps, then the PPO epochs."""
    num_envs, n_steps = int(config.num_train_envs), int(config.n_steps)
    n_minibatch, epochs = int(config.n_minibatch), int(config.epoch_ppo)
    gamma, lam = float(config.gamma), float(config.gae_lambda)
    clip_eps = float(config.clip_eps)
    coeffs = (float(config.critic_coeff), float(config.entropy_coeff))
    step_env = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    @jax.jit
    def update(train_state, obs, env_state, rng):
        def collect(carry, _):
            obs, env_state, rng = carry
            rng, rng_act, rng_step = jax.random.split(rng, 3)
            action, log_pi, value = _act(train_state, train_state.params, obs, rng_act)
            next_obs, next_state, reward, terminated, truncated, _ = step_env(
                jax.random.split(rng_step, num_envs), env_state, action, env_params
            )
            done = jnp.logical_or(terminated, truncated)  # gymnax >= 1.0 reports them apart
            return (next_obs, next_state, rng), (obs, action, log_pi, value, reward, done)

        (obs, env_state, rng), traj = jax.lax.scan(
            collect, (obs, env_state, rng), None, n_steps + 1
        )
        states, actions, log_pis, values, rewards, dones = traj
        adv, target = _gae(values, rewards[:-1], dones[:-1].astype(jnp.float32), gamma, lam)

        def flat(x):
            return x[:n_steps].reshape(n_steps * num_envs, *x.shape[2:])

        batch = tuple(map(flat, (states, actions, log_pis, values, target, adv)))
        size = n_steps * num_envs // n_minibatch

        def epoch(carry, _):
            train_state, rng = carry
            rng, rng_perm = jax.random.split(rng)
            order = jax.random.permutation(rng_perm, n_steps * num_envs)[: size * n_minibatch]
            shuffled = jax.tree.map(lambda x: x[order].reshape(n_minibatch, size, *x.shape[1:]), batch)

            def minibatch(train_state, mb):
                grads = jax.grad(_loss)(train_state.params, train_state, mb, clip_eps, *coeffs)
                return train_state.apply_gradients(grads=grads), None

            train_state, _ = jax.lax.scan(minibatch, train_state, shuffled)
            return (train_state, rng), None

        (train_state, rng), _ = jax.lax.scan(epoch, (train_state, rng), None, epochs)
        return train_state, obs, env_state, rng

    return update


def make_evaluate(env, env_params, num_envs):
    """Mean return of ``num_envs`` whole episodes with sampled actions."""

    @jax.jit
    def evaluate(train_state, rng):
        rng_reset, rng = jax.random.split(rng)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(rng_reset, num_envs), env_params
        )

        def step(carry, _):
            obs, state, rng, total, alive = carry
            rng, rng_act, rng_step = jax.random.split(rng, 3)
            action, _, _ = _act(train_state, train_state.params, obs, rng_act)
            obs, state, reward, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(rng_step, num_envs), state, action, env_params
            )
            done = jnp.logical_or(terminated, truncated)  # gymnax >= 1.0 reports them apart
            return (obs, state, rng, total + reward * alive, alive * (1 - done)), None

        init = (obs, state, rng, jnp.zeros(num_envs), jnp.ones(num_envs))
        carry, _ = jax.lax.scan(step, init, None, env_params.max_steps_in_episode)
        return carry[3].mean()

    return evaluate


_SETTINGS = ("num_train_steps", "lr_begin", "lr_end", "lr_warmup", "max_grad_norm", "num_train_envs", "n_steps", "n_minibatch", "epoch_ppo", "gamma", "gae_lambda",
             "clip_eps", "critic_coeff", "entropy_coeff", "num_test_rollouts")
_CACHE = {}


@cache
def _environment():
    return gymnax.make(ENV_ID)


def _compiled(env, env_params, config, model):
    """The optimizer, update and evaluation functions of these settings and this
    architecture, made once per process, so that the five seeds of train.py compile
    them once (a new model object would count as a new function to jit)."""
    key = (*(config[name] for name in _SETTINGS), repr(model))
    if key not in _CACHE:
        schedule = optax.linear_schedule(
            init_value=-float(config.lr_begin),
            end_value=-float(config.lr_end),
            transition_steps=max(1, int(config.num_train_steps * config.lr_warmup)),
        )
        tx = optax.chain(
            optax.clip_by_global_norm(float(config.max_grad_norm)),
            optax.scale_by_adam(eps=1e-5),
            optax.scale_by_schedule(schedule),
        )
        _CACHE[key] = (
            tx,
            make_update(env, env_params, config),
            make_evaluate(env, env_params, int(config.num_test_rollouts)),
            model.apply,
        )
    return _CACHE[key]


def train_ppo(rng, config, model, params, mle_log=None):
    """Train ``model`` from ``params`` with PPO; returns (log_steps, log_return, params)."""
    env, env_params = _environment()
    num_envs, n_steps = int(config.num_train_envs), int(config.n_steps)
    num_total_epochs = int(config.num_train_steps // num_envs + 1)
    num_updates = max(1, num_total_epochs // (n_steps + 1))
    tx, update, evaluate, apply_fn = _compiled(env, env_params, config, model)
    train_state = TrainState.create(apply_fn=apply_fn, params=params, tx=tx)

    rng, rng_reset, rng_step, rng_eval = jax.random.split(rng, 4)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(rng_reset, num_envs), env_params
    )
    every = int(config.evaluate_every_epochs)
    log_steps, log_return = [], []
    for i in range(1, num_updates + 1):
        train_state, obs, env_state, rng_step = update(train_state, obs, env_state, rng_step)
        epochs_done = i * (n_steps + 1)
        if epochs_done // every > (epochs_done - n_steps - 1) // every or i == num_updates:
            rng_eval, rng_now = jax.random.split(rng_eval)
            mean_return = float(evaluate(train_state, rng_now))
            log_steps.append(epochs_done * num_envs)
            log_return.append(mean_return)
            print(f"steps {epochs_done * num_envs}: mean return {mean_return:.3f}", flush=True)
            if mle_log is not None:
                mle_log.update({"num_steps": epochs_done * num_envs}, {"return": mean_return})
    return log_steps, log_return, jax.device_get(train_state.params)

