"""Pipeline definitions built from the components in ``components/``."""
