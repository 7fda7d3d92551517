"""One view per step of the session workflow (Patient & session ... Replay)."""
