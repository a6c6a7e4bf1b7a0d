"""Teams: the shared tracking server and promotion across environments."""
