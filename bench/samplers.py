"""Sampler benchmark: error vs score evaluations (NFE) of tutorial_pkg's samplers and of diffusers' schedulers.

Every sampler is driven by the exact score of a Gaussian mixture (the 2-D ring; in the full run also a random
16-D mixture) and starts from the same prior draw z ~ N(0, I).  Ours integrate the VP SDE (beta 0.1 -> 20, T = 1)
from T down to t_min = 1e-3 and so end at p_tmin.  The peer's schedulers (diffusers, DDPM's 1000-step training
schedule, the discretisation of the same VP SDE) are given as *data* q0 = p_tmin itself, a Gaussian mixture
again, and run down to their own final noise level 0: both sides thus end at the same law p_tmin, i.e. at the
same end noise level nu = sigma/alpha = 0.0105.  Start: our nu(T) = 152, the peer's first timestep 999 (nu = 157).
The peer's epsilon-model is exact: at its timestep tau we read its own noise level sigma_ve(tau) off its
alphas_cumprod (log-sigma interpolation, the inverse of diffusers' `_sigma_to_t`) and return
eps = -sigma_vp grad log law(alpha X0 + sigma_vp Z), X0 ~ q0, alpha = (1 + sigma_ve^2)^-0.5, sigma_vp = alpha sigma_ve.

Error: sliced 2-Wasserstein distance to an exact sample of p_tmin of the same size (the same projections for
every row); the floor is that distance for independent exact samples (mean of 3 pairs), the sampling noise.
NFE is counted, not assumed.  Samples per second: median of repeated timed runs at one budget, one thread.
Nothing is downloaded at run time (diffusers' schedulers are built from a config).

    python bench/samplers.py --quick  # 2-D ring, N = 20000, budgets 10/20/40: 1.9 min on a loaded 2-core box
    python bench/samplers.py          # ring (N = 40000) and 16-D mixture (N = 20000), budgets 10..100: 9 min
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

import tutorial_pkg as tp

T_MIN = 1e-3
Run = Callable[[int], tuple[torch.Tensor, int]]  # budget -> (samples, NFE actually used)


def load_diffusers():
    """Import the peer library offline, or exit with the install hint."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import diffusers
    except ImportError as err:
        msg = "bench/samplers.py needs the peer library diffusers; install it with `pip install -e .[bench]`"
        sys.exit(f"{msg} ({err})")
    return diffusers


def exact_eps(q0: tp.GaussianMixture, x: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
    """eps = -sigma grad log p(x) for the law of alpha X0 + sigma Z, X0 ~ q0 (a Gaussian mixture)."""
    stds = torch.sqrt(alpha**2 * q0.stds**2 + sigma**2).expand_as(q0.means)
    return -sigma * tp.GaussianMixture(q0.weights, alpha * q0.means, stds).score(x)


class PeerModel:
    """Exact epsilon-model at the peer's own noise levels; counts its calls (NFE)."""

    def __init__(self, q0: tp.GaussianMixture, alphas_cumprod: torch.Tensor):
        ac = alphas_cumprod.double().numpy()
        self.q0, self.log_sigmas, self.calls = q0, 0.5 * np.log((1 - ac) / ac), 0

    def __call__(self, x: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        s = math.exp(np.interp(float(timestep), np.arange(len(self.log_sigmas)), self.log_sigmas))
        alpha = 1 / math.sqrt(1 + s * s)
        return exact_eps(self.q0, x, alpha, s * alpha)


def peer_samplers(diffusers, q0: tp.GaussianMixture, z: torch.Tensor, seed: int) -> dict[str, Run]:
    """diffusers' schedulers, built locally from a config; steps per budget chosen so that NFE <= budget.

    All share one training schedule, DDPM's (linear betas 1e-4 -> 0.02 over 1000 steps, the discretisation of our
    VP SDE; HeunDiscreteScheduler's default differs and would start from the wrong prior).  DDPM/DDIM: no x0
    clipping (it assumes images in [-1, 1]) and "trailing" spacing, so that they start at timestep 999.
    """
    d = diffusers
    base = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear"}
    k = {"use_karras_sigmas": True}
    ddxm = {"timestep_spacing": "trailing", "clip_sample": False}
    specs = {  # name: (class, config, NFE per step)
        "euler (karras)": (d.EulerDiscreteScheduler, k, 1),
        "heun (karras)": (d.HeunDiscreteScheduler, k, 2),
        "lms (karras)": (d.LMSDiscreteScheduler, k, 1),
        "ddpm (trailing)": (d.DDPMScheduler, ddxm, 1),
        "ddim (trailing)": (d.DDIMScheduler, ddxm, 1),
        "dpm++2m": (d.DPMSolverMultistepScheduler, {}, 1),
        "dpm++3m": (d.DPMSolverMultistepScheduler, {"solver_order": 3}, 1),
        "unipc-3": (d.UniPCMultistepScheduler, {"solver_order": 3}, 1),
    }

    def make(cls, config: dict, per_step: int) -> Run:
        def run(budget: int) -> tuple[torch.Tensor, int]:
            sched = cls(**base, **config)
            model = PeerModel(q0, sched.alphas_cumprod)
            n = budget if per_step == 1 else (budget + 1) // 2  # diffusers' Heun: 2n - 1 evaluations
            sched.set_timesteps(n)
            g = torch.Generator().manual_seed(seed)
            kw = {"generator": g} if "generator" in inspect.signature(sched.step).parameters else {}
            x = z * sched.init_noise_sigma
            for t in sched.timesteps:
                eps = model(sched.scale_model_input(x, t), t)
                x = sched.step(eps, t, x, **kw).prev_sample
            return x, model.calls

        return run

    return {name: make(*spec) for name, spec in specs.items()}


def our_samplers(sde: tp.SDE, mix: tp.GaussianMixture, z: torch.Tensor, seed: int) -> dict[str, Run]:
    """tutorial_pkg's samplers on the VP SDE, T -> T_MIN.  Uniform time grid (best in 16-D), plus the quadratic
    grid for the two best deterministic ones (best in 2-D), and the multistep DPM-Solver++ on grids even in log
    noise (Karras' grid, the quadratic one), which it needs."""
    grids = {
        "time": lambda n: tp.uniform_grid(sde, n, T_MIN),
        "quad": lambda n: tp.quadratic_grid(sde, n, T_MIN),
        "karras": lambda n: tp.karras_grid(sde, n, T_MIN),
    }
    specs = {  # name: (sampler, grid, NFE per step, options)
        "euler_maruyama": (tp.euler_maruyama, "time", 1, {}),
        "exponential_integrator h=1 (DDPM)": (tp.exponential_integrator, "time", 1, {}),
        "predictor_corrector": (tp.predictor_corrector, "time", 2, {}),
        "ode_euler": (tp.ode_euler, "time", 1, {}),
        "ddim (eta=0)": (tp.ddim, "time", 1, {}),
        "ddim (eta=0, quad)": (tp.ddim, "quad", 1, {}),
        "ode_heun": (tp.ode_heun, "time", 2, {}),
        "ode_heun (quad)": (tp.ode_heun, "quad", 2, {}),
        "dpm_solver_multistep 2M (karras)": (tp.dpm_solver_multistep, "karras", 1, {"order": 2}),
        "dpm_solver_multistep 3M (karras)": (tp.dpm_solver_multistep, "karras", 1, {"order": 3}),
        "dpm_solver_multistep 2M (quad)": (tp.dpm_solver_multistep, "quad", 1, {"order": 2}),
    }

    def make(sampler, grid: str, per_step: int, options: dict) -> Run:
        def run(budget: int) -> tuple[torch.Tensor, int]:
            score = tp.CountingScore(tp.ExactScore(mix, sde))
            g = torch.Generator().manual_seed(seed)
            x = sampler(sde, score, z.clone(), grids[grid](budget // per_step), generator=g, **options)
            return x, score.calls

        return run

    runs = {name: make(*spec) for name, spec in specs.items()}

    def adaptive(budget: int) -> tuple[torch.Tensor, int]:  # RK45: the NFE is whatever the tolerance costs
        score = tp.CountingScore(tp.ExactScore(mix, sde))
        tol = 0.3 * (10 / budget) ** 3
        x = tp.ode_adaptive(sde, score, z.clone(), torch.tensor([sde.T, T_MIN]), rtol=tol, atol=tol)
        return x, score.calls

    runs["ode_adaptive (rtol=atol=0.3(10/budget)^3)"] = adaptive
    return runs


def bench(label: str, mix: tp.GaussianMixture, n: int, args: argparse.Namespace, diffusers) -> None:
    """Run both sides on one mixture; print the table, the summary and the mapping check."""
    sde = tp.VP()
    p_end = mix.diffuse(sde, T_MIN)  # the law both sides must end at
    gen = torch.Generator().manual_seed(args.seed)
    z = torch.randn(n, mix.means.shape[1], generator=gen)  # the one prior draw every sampler starts from
    ref = p_end.sample(n, generator=gen)

    # sliced W2 to the exact sample, with the same projections for every row; the floor from 3 more exact samples
    quality = tp.SlicedW2Floor(ref, [p_end.sample(n, generator=gen) for _ in range(3)], chunk=None,
                               n_projections=args.projections, seed=args.seed + 1)

    def err(x: torch.Tensor) -> float:
        return float(quality.distance(x)) if bool(torch.isfinite(x).all()) else math.inf

    pairs = quality.fresh_distances.tolist()
    floor = quality.floor
    sides = {"ours": our_samplers(sde, mix, z, args.seed), "peer": peer_samplers(diffusers, p_end, z, args.seed)}
    print(f"\n=== {label}: d={mix.means.shape[1]}, N={n}, sliced W2 with {args.projections} projections ===")
    print(f"floor (exact vs exact, mean of 3 pairs) {floor:.4f}  [{min(pairs):.4f} .. {max(pairs):.4f}]")
    nfe = args.check_nfe  # mapping check: both sides converge, to the same points (same PF-ODE, same z)
    (xp, _), (xo, _) = sides["peer"]["dpm++2m"](nfe), sides["ours"]["ode_heun (quad)"](nfe)
    print(
        f"mapping check at {nfe} NFE: peer dpm++2m {err(xp):.4f}, our ode_heun {err(xo):.4f} (the error of exact "
        f"PF-ODE transport of this prior draw); mean |peer - ours| per sample {(xp - xo).norm(dim=1).mean():.1e}"
    )
    print(
        f"cells: error [NFE used if not the budget]; samples/s at NFE {args.speed_budget}, median of {args.reps} runs"
    )
    head = "".join(f"{f'NFE {b}':>15}" for b in args.budgets)
    print(f"{'side':5} {'sampler':42}{head}{'samples/s':>11}")
    results: dict[str, list[tuple[int, float, str]]] = {side: [] for side in sides}
    for side, runs in sides.items():
        for name, run in runs.items():
            cells = []
            for b in args.budgets:
                x, nfe = run(b)
                e = err(x)
                results[side].append((nfe, e, name))
                cells.append(f"{e:.4f}" + (f" [{nfe}]" if nfe != b else ""))
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                run(args.speed_budget)
                times.append(time.perf_counter() - t0)
            print(f"{side:5} {name:42}{''.join(f'{c:>15}' for c in cells)}{n / statistics.median(times):11.0f}")
    for factor in (2.0, 1.5):
        level = factor * floor
        best = {}
        for side, rows in results.items():
            ok = sorted((nfe, name) for nfe, e, name in rows if e <= level)
            best[side] = ok[0] if ok else (math.inf, "none within the budgets")
        (x_nfe, x_name), (y_nfe, y_name) = best["ours"], best["peer"]
        print(
            f"error <= {level:.4f} ({factor:g}x floor): at equal error, our best sampler needs {x_nfe} NFE "
            f"({x_name}), the peer's best {y_nfe} ({y_name})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2-D ring only, N=20000, budgets 10/20/40")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # budgets divide 1000: diffusers' DDIM steps by 1000 // n timesteps, so other counts are inconsistent
    args.budgets = [10, 20, 40] if args.quick else [10, 20, 40, 100]
    args.projections, args.speed_budget, args.reps = 64, 20, 3
    args.check_nfe = 100 if args.quick else 200
    diffusers = load_diffusers()
    print(
        f"torch {torch.__version__}, diffusers {diffusers.__version__}, {torch.get_num_threads()} thread; "
        f"VP(beta 0.1 -> 20), T=1, t_min={T_MIN}"
    )
    t0 = time.perf_counter()
    bench("ring_mixture (8 components)", tp.ring_mixture(), 20000 if args.quick else 40000, args, diffusers)
    if not args.quick:
        mix16 = tp.random_mixture(16, 8, generator=torch.Generator().manual_seed(1))
        bench("random_mixture (16-D, 8 components)", mix16, 20000, args, diffusers)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
