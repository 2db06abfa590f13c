"""Running episodes: the one step engine and its faces (Episode, the Gymnasium env),
their options, the trajectory, replay and memory."""
