"""The numbers that both the compiler and the kernel library's machine code use. Kept in a
module of their own: a jitted helper freezes a constant it reads into its machine code, so
the helpers' cache is keyed on this file (backend/tier0.py), not on the whole IR."""

# Vensim's :NA: value (what Vensim stores for "not available").
NA_VALUE = -1.298074214633707e33

XIDZ_EPS = 1e-6  # Vensim's XIDZ/ZIDZ treat |divisor| below this as zero (the kernel and consteval)

# A single run's time loop checks every INTERRUPT_EVERY steps whether Ctrl-C was pressed
# (kernel_intrinsics.interrupted): the check costs a few nanoseconds, a fraction of one per
# step even for the teacup's step of a few, and a large model's steps (milliseconds each)
# still stop within a moment.
INTERRUPT_EVERY = 64

# ABSOLUTE TOLERANCE and RELATIVE TOLERANCE of RK4 Auto when the model does not define them
# (Vensim's help, "Special Variables"; backend/kernel_step.py)
DEFAULT_TOLERANCE = 0.001
# RK4 Auto halves TIME STEP at most this many times (TIME STEP / 2**20: a million sub-steps)
RK4_AUTO_HALVINGS = 20
