"""A hand-written Numba kernel of the teacup model: the practical speed limit
for what smartspec generates for it.

    Teacup Temperature = INTEG(-Heat Loss to Room, 180)
    Heat Loss to Room  = (Teacup Temperature - Room Temperature) / Characteristic Time
    Room Temperature = 70, Characteristic Time = 10, TIME STEP 0.125, FINAL TIME 30

Euler exactly as Vensim (and the generated kernel) integrate: at each step the
state is saved first, then T += dt * rate. Same Numba options as the generated
code (error_model="numpy", no fastmath), and dt / n_steps / the initial value
are run-time arguments, as they are for the generated kernel.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

JIT = dict(cache=True, nogil=True, error_model="numpy")

T_INIT, ROOM, TAU = 180.0, 70.0, 10.0
T0, DT, FINAL = 0.0, 0.125, 30.0
N_STEPS = int(round((FINAL - T0) / DT))  # 240


@njit(**JIT)
def teacup_run(room, tau, t_init, dt, n_steps, save_every, out):
    """One run; out[k] = Teacup Temperature at saved step k. Returns the number saved."""
    temp = t_init
    saved = 0
    for step in range(n_steps + 1):
        if step % save_every == 0:
            out[saved] = temp
            saved += 1
        if step == n_steps:
            break
        temp += dt * (-((temp - room) / tau))
    return saved


@njit(**JIT)
def teacup_final(room, tau, t_init, dt, n_steps):
    """One run, final Teacup Temperature only."""
    temp = t_init
    for _ in range(n_steps):
        temp += dt * (-((temp - room) / tau))
    return temp


@njit(parallel=True, cache=True, error_model="numpy")
def teacup_batch_final(rooms, taus, t_init, dt, n_steps, out):
    """out[i] = final temperature of run i with (rooms[i], taus[i])."""
    for i in prange(rooms.shape[0]):
        out[i] = teacup_final(rooms[i], taus[i], t_init, dt, n_steps)


@njit(parallel=True, cache=True, error_model="numpy")
def teacup_batch_traj(rooms, taus, t_init, dt, n_steps, save_every, OUT):
    """OUT[i, :] = trajectory of run i with (rooms[i], taus[i])."""
    for i in prange(rooms.shape[0]):
        teacup_run(rooms[i], taus[i], t_init, dt, n_steps, save_every, OUT[i])


def grid(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n (room temperature, characteristic time) pairs, the same for every engine."""
    rng = np.random.default_rng(seed)
    return rng.uniform(50.0, 90.0, n), rng.uniform(5.0, 20.0, n)


if __name__ == "__main__":
    import time
    out = np.empty(N_STEPS + 1)
    teacup_run(ROOM, TAU, T_INIT, DT, N_STEPS, 1, out)
    print("final temperature", out[-1], teacup_final(ROOM, TAU, T_INIT, DT, N_STEPS))
    rooms, taus = grid(100_000)
    fin = np.empty(rooms.shape[0])
    teacup_batch_final(rooms, taus, T_INIT, DT, N_STEPS, fin)
    t = time.perf_counter()
    teacup_batch_final(rooms, taus, T_INIT, DT, N_STEPS, fin)
    print(f"batch final: {rooms.shape[0] / (time.perf_counter() - t):,.0f} runs/s")
