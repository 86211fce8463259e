"""Seed studies and sweeps as independent tasks, in this process, on an embedded Dask cluster or a remote one.

- :mod:`~mnistlab.distributed.tasks`: one task (a chain of steps: a parent and the steps that use its model),
  run on whichever process gets it; returns its files' bytes with their digests. Worker side.
- :mod:`~mnistlab.distributed.cluster`: connecting (``--workers N``: a LocalCluster of spawned processes;
  ``--cluster ADDRESS``: an existing scheduler), the version check, running tasks with progress and faults.
- :mod:`~mnistlab.distributed.run`: ``mnistlab run --workers/--cluster``: the run's steps as tasks, results
  written into the run folder on this machine (the one source of truth) with the manifest.
- :mod:`~mnistlab.distributed.sweep`: ``mnistlab sweep``: a grid of settings times seeds.
"""
