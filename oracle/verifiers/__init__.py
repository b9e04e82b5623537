"""Verification of evidence against its specification: small rules behind one interface."""

from oracle.verifiers.base import VerificationContext, VerificationResult, Verifier
from oracle.verifiers.registry import VERIFIERS, verify

__all__ = ["VERIFIERS", "VerificationContext", "VerificationResult", "Verifier", "verify"]
