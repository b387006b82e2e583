"""Real Slurm: the loopback harness and ``slinky verify``."""
