"""The back end: an ordered, lowered model in, Python source for Numba out
(code generation), and the kernel library that source calls."""
