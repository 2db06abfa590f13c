"""Token counting for the harness (model backends, memory): :mod:`aci.tokens`.

The counter lives in ``aci`` because the context window is the interface's limit
and ``aci`` imports nothing from ``harness``; the harness uses the same one.
"""

from aci.tokens import (
    MESSAGE_OVERHEAD,
    count_message_tokens,
    count_tokens,
    counter_for,
    encoding_name_for,
    estimate_tokens,
)

__all__ = [
    "MESSAGE_OVERHEAD",
    "count_message_tokens",
    "count_tokens",
    "counter_for",
    "encoding_name_for",
    "estimate_tokens",
]
