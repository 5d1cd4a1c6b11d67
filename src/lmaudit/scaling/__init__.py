"""Scaling and emergence: one task on models of several sizes (`lmaudit scaling`).

`sweep` runs the task on every model (resumable run directories) and reads the runs back
as item × size matrices; `analysis` turns them into the report's `ScalingSection` with
`lmaudit.stats.scaling` (intervals, slope and U-shape tests over log size) and
`lmaudit.stats.scaling_calibration` (calibration vs size).
"""
