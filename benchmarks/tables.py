"""The experiments of docs/RESULTS.md as data: where the runs go, the
baseline, the tables and the name of each run.

experiments.py trains them, script_runs.py runs the scripts as typed,
results_report.py writes RESULTS.md; each imports this, none another.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Measure this checkout's kgan, not a copy pip installed earlier.
sys.path.insert(0, str(ROOT))
# KGAN_RESULTS moves the runs (and RESULTS.md, beside them) elsewhere.
RESULTS = Path(os.environ.get("KGAN_RESULTS", ROOT / "docs" / "results"))
RUNS = RESULTS / "runs"
IMAGES = RESULTS / "images"

# The baseline: DCGAN, train_mnist.py's default until section 11 chose
# SELF-MOD, here at shorter budgets and without the script's weight EMA.
BASE = {
    "arch": "dcgan",
    "loss": None,  # hinge (O-GAN: its GAN-QP)
    "trainer": "onestep",
    "ogan": False,
    "conditional": False,
    "z_dim": 64,
    "base_channels": 32,
    "lr": 2e-4,
    "batch_size": 64,
    "mapping_layers": 4,  # the StyleGAN form's mapping network
}

AUGMENT = "translation,cutout,color"  # DiffAugment's policy for all images
# ADA's adaptive probability on that policy: the paper's target 0.6; p may
# cross [0, 1] in 100k images (ADA's 500k is for runs of millions: a
# 1,500-step run sees 96k images, a 6,000-step one 384k).
ADA = {"augment": AUGMENT, "augment_target": 0.6, "augment_kimg": 100}

# table -> [(row label, overrides of BASE)]; `train_size` (not a RunConfig
# setting) trains on the first that many of the 4,500 training digits.
TABLES = {
    "architectures": [
        ("DCGAN", {}),
        ("ResNet", {"arch": "resnet"}),
        ("SELF-MOD (DCGAN body)", {"arch": "selfmod"}),
        ("StyleGAN form (AdaIN)", {"arch": "stylegan"}),
        # The 4-layer mapping network collapsed onto a few classes.
        (
            "StyleGAN form, 1 mapping layer",
            {"arch": "stylegan", "mapping_layers": 1},
        ),
    ],
    "selfmod": [
        ("BN (DCGAN)", {}),
        ("SELF-MOD", {"arch": "selfmod"}),
        ("BN (DCGAN) + O-GAN", {"ogan": True}),
        ("SELF-MOD + O-GAN", {"arch": "selfmod", "ogan": True}),
    ],
    "trainers": [
        ("one-step", {}),
        ("alternating 1:1", {"trainer": "alternating"}),
    ],
    "ogan": [
        ("BN (DCGAN) + O-GAN", {"ogan": True}),
        ("SELF-MOD + O-GAN", {"arch": "selfmod", "ogan": True}),
    ],
    "conditional": [
        ("DCGAN, conditional BN + projection D", {"conditional": True})
    ],
    "losses": [
        ("hinge", {}),
        ("non-saturating", {"loss": "ns"}),
        ("WGAN-GP", {"loss": "wgan-gp"}),
        ("GAN-QP", {"loss": "gan-qp"}),
        # Su's scripts run GAN-QP (in O-GAN) at lr 1e-4: a check of
        # whether the GAN-QP row's lag is the learning rate.
        ("GAN-QP, lr 1e-4", {"loss": "gan-qp", "lr": 1e-4}),
        # The scale of the GAN-QP paper's scripts (github.com/bojone/gan-qp),
        # not O-GAN's.
        ("GAN-QP, paper's scale (L1, λ = 10)", {"loss": "gan-qp-l1"}),
    ],
    # Tables 2 and 4's claims about where training ends, at a longer
    # budget: `run --tables longer --steps 2000`.
    "longer": [
        ("BN (DCGAN)", {}),
        ("SELF-MOD", {"arch": "selfmod"}),
        ("alternating 1:1", {"trainer": "alternating"}),
        # Su: the StyleGAN form converges but with slight mode collapse.
        ("StyleGAN form (AdaIN)", {"arch": "stylegan"}),
    ],
    # Su's open question (does the StyleGAN form need PGGAN's training?):
    # `run --tables growing growing_stylegan --steps 1500`.
    "growing": [
        ("DCGAN", {}),
        ("DCGAN, progressive", {"progressive": True}),
        ("StyleGAN form", {"arch": "stylegan"}),
        (
            "StyleGAN form, style mixing 0.9",
            {"arch": "stylegan", "style_mixing": 0.9},
        ),
    ],
    # Issue 15: D overfits a small dataset; DiffAugment should help.
    # `run --tables small_data --steps 1500`.
    "small_data": [
        ("500 digits", {"train_size": 500}),
        ("500 digits + DiffAugment", {"train_size": 500, "augment": AUGMENT}),
        ("500 digits + DiffAugment, ADA's p", {"train_size": 500, **ADA}),
        ("1,000 digits", {"train_size": 1000}),
        (
            "1,000 digits + DiffAugment",
            {"train_size": 1000, "augment": AUGMENT},
        ),
        ("1,000 digits + DiffAugment, ADA's p", {"train_size": 1000, **ADA}),
    ],
    # The 500-digit rows again, at a budget where D has time to overfit.
    "small_data_long": [
        ("500 digits", {"train_size": 500}),
        ("500 digits + DiffAugment", {"train_size": 500, "augment": AUGMENT}),
        ("500 digits + DiffAugment, ADA's p", {"train_size": 500, **ADA}),
    ],
    "growing_stylegan": [
        (
            "StyleGAN form, progressive",
            {"arch": "stylegan", "progressive": True},
        ),
    ],
}


# The tables `run` trains by default, at 500 steps; the others name their
# own budget (`--steps`) in RESULTS.md.
OWN_BUDGET = (
    "longer", "growing", "growing_stylegan", "small_data", "small_data_long"
)  # fmt: skip
DEFAULT_TABLES = [name for name in TABLES if name not in OWN_BUDGET]


def run_key(overrides, seed, steps):
    """A file-name-safe name of one run: its overrides, seed and steps."""
    parts = [f"{k}-{v}" for k, v in sorted(overrides.items())]
    return "_".join(["base", *parts, f"steps-{steps}", f"seed-{seed}"])
