"""One-off GPU diagnostics: small scripts that answer one open question of a measured profile
in a few seconds of device time (bench/results/README.md lists the questions)."""
