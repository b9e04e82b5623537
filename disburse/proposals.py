"""Moved: the council's actions and read model are in `disburse.council`, the formatting in
`disburse._format`. These names stay only until disburse.audit and disburse.cli.watch import
them from there; nothing new imports this module."""

from disburse._format import duration_words as show_duration
from disburse._format import ref_text, short
from disburse.council import ROLE_NAMES, ChainWords, MilestoneFacts, Money, describe

__all__ = [
    "ROLE_NAMES",
    "ChainWords",
    "MilestoneFacts",
    "Money",
    "describe",
    "ref_text",
    "short",
    "show_duration",
]
