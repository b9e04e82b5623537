"""The oracle node: takes evidence for a milestone, checks it against the milestone's evidence
specification, and signs and submits its attestation, journaling every step before taking it."""
