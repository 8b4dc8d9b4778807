# The real module is written at build time by setup.py (from muse.h).
__version__: str
