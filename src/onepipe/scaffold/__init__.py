"""``onepipe init``: a small, complete project for one task, ready for every command."""
