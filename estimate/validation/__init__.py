"""The estimator against published measurements, and the fit of its few fitted constants.

Each module scores one public source (Selene and vTrain step tables, H100 scale anchors, MLPerf
Training logs, llm-foundry throughput, whole published runs) from the CSVs in `data/`, each row
with its source. It imports the physics; the physics never imports it (a test enforces this),
so nothing here can leak into an estimate except through `fitted_constants.py`, which the fit
script writes.
"""
