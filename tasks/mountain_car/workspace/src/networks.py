"""The policy network: a separate actor and critic, each an MLP (MLGym-Bench's layout).

The evaluation (evaluate.py and the scorer) builds the network with
``get_model_ready(rng, config.train_config)`` from this file of your submission and
calls ``model.apply(params, obs, rng=None)``, which must return ``(value, pi)`` where
``pi.sample(seed=key)`` draws actions. Change the architecture as you like; keep the
class name ``Model`` and that interface.
"""

import flax.linen as nn
import gymnax
import jax
import jax.numpy as jnp
from tensorflow_probability.substrates import jax as tfp

ENV_ID = "MountainCarContinuous-v0"


def get_model_ready(rng, config):
    """The model for the environment's observations and its initial parameters."""
    env, env_params = gymnax.make(ENV_ID)
    model = Model(**config.network_config, num_output_units=env.num_actions)
    obs_shape = env.observation_space(env_params).shape
    params = model.init(rng, jnp.zeros(obs_shape), rng=rng)
    return model, params


def default_mlp_init(scale=0.05):
    return nn.initializers.uniform(scale)


def _mlp(x, units, layers, prefix):
    for i in range(layers):
        x = nn.relu(nn.Dense(units, name=f"{prefix}_fc_{i + 1}", bias_init=default_mlp_init())(x))
    return x


# The evaluation looks this class up by name: keep it.
class Model(nn.Module):
    """Actor-critic with a Gaussian policy (diagonal, state-dependent scale)."""

    num_output_units: int
    num_hidden_units: int
    num_hidden_layers: int
    prefix_actor: str = "actor"
    prefix_critic: str = "critic"
    min_std: float = 0.001
    model_name: str = "separate-mlp"

    @nn.compact
    def __call__(self, x, rng):
        hidden = self.num_hidden_units, self.num_hidden_layers
        x_v = _mlp(x, *hidden, self.prefix_critic)
        v = nn.Dense(1, name=f"{self.prefix_critic}_fc_v", bias_init=default_mlp_init())(x_v)
        x_a = _mlp(x, *hidden, self.prefix_actor)
        mu = nn.Dense(
            self.num_output_units, name=f"{self.prefix_actor}_fc_mu", bias_init=default_mlp_init()
        )(x_a)
        log_scale = nn.Dense(
            self.num_output_units, name=f"{self.prefix_actor}_fc_scale", bias_init=default_mlp_init()
        )(x_a)
        scale = jax.nn.softplus(log_scale) + self.min_std
        return v, tfp.distributions.MultivariateNormalDiag(mu, scale)
