"""Tasks: the task format, their Python environments, their data sets."""
