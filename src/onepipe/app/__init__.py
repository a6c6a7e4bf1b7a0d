"""The app layer: stages wired together, above them and below the commands.

Serving and monitoring do not import each other; ``gateway`` mounts the monitor on
the gateway for ``onepipe serve``, the demo and the tests (``background``).
"""
