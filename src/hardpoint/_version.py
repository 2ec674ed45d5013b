"""The package version, read by hatchling at build time and by ``hardpoint.__version__``."""

__version__ = "0.1.0.dev0"
