"""kgan.losses: adversarial loss pairs, regularisers and tricks.

`get_loss(name)` returns an `AdversarialLoss` from a small registry, and
`get_preset(name)` a loss with the regularisers a script's `--loss` name
implies (`"wgan-gp"` is the WGAN pair plus a gradient penalty). Importing
this package registers every kgan loss object with Keras' serialization.
"""

import copy
import functools
import inspect

from kgan._checks import number_in, positive_number
from kgan.losses.adversarial import (
    GAN_QP_DISTANCES,
    AdversarialLoss,
    gan_qp_d,
    gan_qp_g,
    hinge_d,
    hinge_g,
    lsgan_d,
    lsgan_g,
    ns_d,
    ns_g,
    ragan_d,
    ragan_g,
    rsgan_d,
    rsgan_g,
    wgan_d,
    wgan_g,
)
from kgan.losses.autodiff import input_gradients
from kgan.losses.ogan import pearson_correlation, standardize_codes
from kgan.losses.regularizers import (
    GradientPenalty,
    OrthogonalRegularization,
    R1Penalty,
    WeightClip,
    WGANDivPenalty,
    apply_weight_clipping,
)
from kgan.losses.tricks import InstanceNoise

__all__ = [
    "AdversarialLoss", "GradientPenalty", "InstanceNoise", "LOSS_PRESETS",
    "OrthogonalRegularization", "R1Penalty", "WGANDivPenalty", "WeightClip",
    "apply_weight_clipping", "gan_qp_d", "gan_qp_g", "get_loss", "get_preset",
    "hinge_d", "hinge_g", "input_gradients", "loss_choices", "loss_names",
    "lsgan_d", "penalises_input_gradient", "preset_loss_name",
    "takes_label_smoothing",
    "lsgan_g", "ns_d", "ns_g", "pearson_correlation", "ragan_d", "ragan_g",
    "register_loss", "rsgan_d", "rsgan_g", "standardize_codes", "wgan_d",
    "wgan_g",
]  # fmt: skip


def _check_smoothing(label_smoothing):
    return number_in("label_smoothing", label_smoothing, 0, 1, high_open=True)


def _hinge():
    return AdversarialLoss(
        hinge_d, hinge_g, name="hinge", decision_threshold=0.0
    )


def _non_saturating(label_smoothing=0.0):
    a = _check_smoothing(label_smoothing)
    d_loss = functools.partial(ns_d, label_smoothing=a) if a else ns_d
    return AdversarialLoss(d_loss, ns_g, name="ns", decision_threshold=0.0)


def _wgan():
    return AdversarialLoss(wgan_d, wgan_g, name="wgan", zero_sum=True)


def _lsgan(label_smoothing=0.0):
    a = _check_smoothing(label_smoothing)
    d_loss = functools.partial(lsgan_d, label_smoothing=a) if a else lsgan_d
    # Undecided halfway between the fake target 0 and the real 1 - a.
    return AdversarialLoss(
        d_loss, lsgan_g, name="lsgan", decision_threshold=(1.0 - a) / 2
    )


def _rsgan():
    return AdversarialLoss(rsgan_d, rsgan_g, name="rsgan")


def _ragan():
    return AdversarialLoss(ragan_d, ragan_g, name="ragan")


def _gan_qp(lambda_=2.0, distance="squared"):
    """O-GAN's scale: `lambda_` 2 on the mean squared pixel distance."""
    lambda_ = positive_number("lambda_", lambda_)
    if distance not in GAN_QP_DISTANCES:
        raise ValueError(
            f"`distance` must be one of {list(GAN_QP_DISTANCES)}. "
            f"Received: distance={distance!r}"
        )
    d_loss = functools.partial(gan_qp_d, lambda_=lambda_, distance=distance)
    return AdversarialLoss(
        d_loss, gan_qp_g, name="gan-qp", real_scores_high=False
    )


def _gan_qp_l1(lambda_=10.0, distance="l1"):
    """The GAN-QP paper's scripts' scale: `lambda_` 10 on the mean L1
    pixel distance (github.com/bojone/gan-qp)."""
    return _gan_qp(lambda_, distance)


_LOSSES = {
    "hinge": _hinge,
    "ns": _non_saturating,
    "non_saturating": _non_saturating,
    "wgan": _wgan,
    "lsgan": _lsgan,
    "rsgan": _rsgan,
    "ragan": _ragan,
    "gan-qp": _gan_qp,
    "gan_qp": _gan_qp,
    "gan-qp-l1": _gan_qp_l1,
}


def register_loss(name, factory, overwrite=False):
    """Makes `get_loss(name, **kwargs)` return `factory(**kwargs)`.

    Args:
        name: the new loss name.
        factory: a callable returning an `AdversarialLoss`.
        overwrite: whether to replace a loss already registered as `name`.
    """
    if not callable(factory):
        raise ValueError(f"`factory` must be callable. Received: {factory!r}")
    if name in _LOSSES and not overwrite:
        raise ValueError(
            f"A loss is already registered as {name!r}; pass "
            f"`overwrite=True` to replace it. Received: name={name!r}"
        )
    _LOSSES[name] = factory


def loss_names():
    """The names `get_loss` knows, in registration order."""
    return list(_LOSSES)


def get_loss(identifier, **kwargs):
    """Returns an `AdversarialLoss` from a name, an instance or a pair.

    Args:
        identifier: a registered name (see `loss_names()`), an
            `AdversarialLoss` (returned as is), or a `(d_fn, g_fn)` pair of
            callables.
        **kwargs: options of the named loss (`label_smoothing` for "ns" and
            "lsgan", `lambda_` for "gan-qp"), or `AdversarialLoss` arguments
            for a pair (e.g. `zero_sum=True`).
    """
    if isinstance(identifier, AdversarialLoss):
        if kwargs:
            raise ValueError(
                "Options apply to loss names and pairs, not to an "
                f"`AdversarialLoss` instance. Received: kwargs={kwargs}"
            )
        return identifier
    if isinstance(identifier, (tuple, list)) and len(identifier) == 2:
        return AdversarialLoss(identifier[0], identifier[1], **kwargs)
    if isinstance(identifier, str):
        if identifier not in _LOSSES:
            raise ValueError(
                f"Unknown adversarial loss {identifier!r}. Known losses: "
                f"{loss_names()}. Received: identifier={identifier!r}"
            )
        factory = _LOSSES[identifier]
        params = inspect.signature(factory).parameters
        unknown = sorted(set(kwargs) - set(params))
        if unknown and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        ):
            raise ValueError(
                f"Loss {identifier!r} takes the options {sorted(params)}. "
                f"Received unknown options: {unknown}"
            )
        return factory(**kwargs)
    raise ValueError(
        "Expected a loss name, an `AdversarialLoss` or a `(d_fn, g_fn)` "
        f"pair. Received: identifier={identifier!r}"
    )


# A script's `--loss` name -> (loss name, regulariser). The regularisers here
# are templates: `get_preset` hands out copies.
LOSS_PRESETS = {
    "wgan-gp": ("wgan", GradientPenalty(10.0)),
    "wgan-div": ("wgan", WGANDivPenalty()),
    "r1": ("ns", R1Penalty()),
}


def get_preset(name):
    """Returns `(AdversarialLoss, [regularizers])` for a `--loss` name.

    Args:
        name: a preset (`"wgan-gp"`, `"wgan-div"`, `"r1"`: non-saturating
            plus R1) or any plain loss name, which comes with no regulariser.
    """
    if name in LOSS_PRESETS:
        loss_name, regularizer = LOSS_PRESETS[name]
        return get_loss(loss_name), [copy.deepcopy(regularizer)]
    if name in _LOSSES:
        return get_loss(name), []
    raise ValueError(
        f"Unknown loss preset {name!r}. Known: {sorted(LOSS_PRESETS)} and "
        f"the losses {loss_names()}. Received: name={name!r}"
    )


def loss_choices():
    """The names a script's `--loss` takes: each loss once (no aliases),
    then the presets."""
    seen, names = set(), []
    for name, factory in _LOSSES.items():
        if factory not in seen:
            seen.add(factory)
            names.append(name)
    return names + [n for n in LOSS_PRESETS if n not in names]


def preset_loss_name(name):
    """The adversarial loss a `--loss` name trains with (`"r1"` -> `"ns"`)."""
    return LOSS_PRESETS[name][0] if name in LOSS_PRESETS else name


def penalises_input_gradient(name):
    """True if the `--loss` name `name` penalises D's input gradient (its
    critic then has no BatchNorm)."""
    regularizer = LOSS_PRESETS.get(name, (None, None))[1]
    return bool(getattr(regularizer, "penalises_input_gradient", False))


def takes_label_smoothing(name):
    """True if the loss a `--loss` name trains with has one-sided label
    smoothing (`get_loss(..., label_smoothing=a)`)."""
    factory = _LOSSES[preset_loss_name(name)]
    return "label_smoothing" in inspect.signature(factory).parameters
