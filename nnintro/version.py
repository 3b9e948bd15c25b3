"""The version, alone, so every layer can read it without importing the package's face."""
__version__ = "0.3.0"
