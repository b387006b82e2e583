"""What users and Slurm say: profiles, the instance catalogue, slurm.conf values, NodeSet keys."""
