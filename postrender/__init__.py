"""slinky-pr: inject partition profiles into Slinky slurm Helm releases."""

__version__ = "0.1.0"
