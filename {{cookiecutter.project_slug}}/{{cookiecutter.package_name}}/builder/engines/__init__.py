"""Handing work to engines: plan files, resources per permutation, retries, and a file per engine
(SLURM, Grid Engine, PBS, LSF, Kubernetes, AWS Batch) that submits arrays over the plans."""
