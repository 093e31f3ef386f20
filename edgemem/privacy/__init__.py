"""Privacy: at-rest encryption keys, blinded search tokens, audit log, offline guard."""
