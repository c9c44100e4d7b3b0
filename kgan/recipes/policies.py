"""Run policies: what an "auto" setting of a `RunConfig` becomes.

A policy reads the rest of the config, so code that builds a `RunConfig`
and a script given the same flags train the same run. It runs when the
config is made; a saved config holds the values it chose, so a resumed
run keeps them.
"""

import math


def resolve(config):
    """`({setting: value}, [notes])`: the values of the "auto" settings,
    and a line for each choice (or warning) worth saying."""
    changes, notes = {}, []
    arch = config.arch
    if arch == "auto":
        arch = _arch_for(config)
        changes["arch"] = arch
        if arch != "selfmod":
            notes.append(
                "kgan: `progressive`: `arch` dcgan (PGGAN's form), since "
                "the default, selfmod, has no progressive form; choose "
                "`arch` stylegan for the StyleGAN form"
            )
    ema, note = _ema_for(config)
    if ema != config.ema:
        changes["ema"] = ema
    if note:
        notes.append(note)
    return changes, notes


def _arch_for(config):
    """SELF-MOD (the best measured on MNIST, docs/RESULTS.md section 11);
    a progressive run grows PGGAN's DCGAN form, SELF-MOD having none. A
    conditional one keeps SELF-MOD, which the checks then refuse by name
    (only the StyleGAN form grows with labels)."""
    if config.progressive and config.num_classes is None:
        return "dcgan"
    return "selfmod"


def _ema_for(config):
    """`(momentum, note)`: "auto" is 0.999, fitted to a progressive run's
    stages.

    Each stage trains its new layers from their initial values, so an EMA
    whose half-life is long next to a stage averages in the untrained
    layers: with 1,500 steps (375-step stages) 0.999 (half-life ~693
    steps) left the StyleGAN form's averaged generator at MNIST-FID ~736
    where its trained weights gave ~82. "auto" is then lowered to a
    half-life of an eighth of a stage; a momentum given as a number is
    kept, with a warning when its half-life exceeds half a stage.
    """
    if config.ema is None:
        return None, None
    if not config.progressive:
        return (0.999 if config.ema == "auto" else config.ema), None
    stage_steps = config.progressive_schedule[0]
    if config.ema != "auto":
        half_life = math.log(0.5) / math.log(config.ema)
        if half_life <= stage_steps / 2:
            return config.ema, None
        return config.ema, (
            f"kgan: warning: `ema` {config.ema} has a half-life of "
            f"{half_life:.0f} steps, over half of a {stage_steps}-step stage "
            "of `progressive`: the averaged generator mixes in layers from "
            "before they trained"
        )
    fitted = 0.5 ** (8 / stage_steps)
    if fitted >= 0.999:
        return 0.999, None
    return fitted, (
        f"kgan: `progressive`: EMA momentum {fitted:.4f} (a half-life of "
        f"{stage_steps / 8:.0f} steps, an eighth of a {stage_steps}-step "
        "stage) instead of 0.999; give `ema` to choose"
    )
