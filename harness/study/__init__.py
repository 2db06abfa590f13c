"""Studies: many episodes on one machine, their directory, scheduler and workers,
and the benchmark's metrics."""
