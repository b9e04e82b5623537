"""Failpoints for crash tests: with ORACLE_FAULT_AT=<step>, the node kills itself (SIGKILL, no
clean-up, exactly like `kill -9`) right after journaling that step. Unset, `reached` does nothing.

Steps: received, verified, signed, sending, sent, submitted.
"""

from __future__ import annotations

import os
import signal

STEPS = ("received", "verified", "signed", "sending", "sent", "submitted")
_VARIABLE = "ORACLE_FAULT_AT"


def reached(step: str) -> None:
    if os.environ.get(_VARIABLE) == step:
        os.kill(os.getpid(), signal.SIGKILL)
