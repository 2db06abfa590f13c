"""Scoring away from the agent: the scorer, its helpers inside the scorer's sandbox,
and the nested sandbox that runs submitted code."""
