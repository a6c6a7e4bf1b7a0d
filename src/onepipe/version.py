"""The package version, in a module of its own: code below the top-level package reads it
here, as importing ``onepipe`` itself from below would point up at ``onepipe.Project``."""

__version__ = "0.1.0"
