"""Many runs of a compiled model: samplers, sweeps, streaming statistics, the
sweep store, distributed chunks, sensitivity analysis, calibration, plots."""
