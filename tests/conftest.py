"""Shared fixtures: float64 by default inside a test, the devices to run on, the list of SDEs."""

from __future__ import annotations

import os

import pytest
import torch

import tutorial_pkg as tp

# The course's tensors are small: one thread is as fast, and far faster when the cores of a laptop or a CI
# machine are shared (intra-op threads then spin against each other; measured: a toy training loop ran 10x
# slower with two threads on a busy 2-core machine).  pytest collects tests/ before it runs anything, so the
# variable reaches every notebook kernel nbval starts; set_num_threads covers this process.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

_MPS = getattr(torch.backends, "mps", None)
#: The devices PyTorch sees: the device tests run on each (the CPU here; CUDA or Apple's MPS where present).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _MPS and _MPS.is_available() else [])

# One instance of every forward SDE of the course, with the default parameters.
ALL_SDES = [tp.OU(), tp.VE(), tp.VP(), tp.SubVP(), tp.COU(), tp.CVP(), tp.OU(theta=1.0, sigma=1.5, mu=0.7, T=2.0)]


def sde_id(sde) -> str:
    return type(sde).__name__ + ("-mu" if getattr(sde, "mu", 0.0) else "")


@pytest.fixture(autouse=True)
def float64_default():
    """Oracle tests compare with closed forms: run them in float64 unless a test says otherwise."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
