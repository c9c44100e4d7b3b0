"""One SGD step of `OneStepGAN.fit` is exactly Su's single loss
(https://kexue.fm/archives/6387).

Su's loss
`d_loss(D(x), D(sg G(z))) + D_pen + g_weight * [g_loss(D(G(z))) -
g_loss(D(sg G(z)))] + G_pen` gives D the gradient of `d_loss + D_pen` and G
that of `g_weight * g_loss + G_pen`, whatever formulation computes it. Each
test runs one plain SGD step through the trainer's own `fit` and compares
every weight's change with `-lr` times a reference gradient taken from
separately differentiated d and g losses, written by hand in
`reference_losses.py` (no kgan loss, regulariser or trainer helper is used
for the reference).
"""

import keras
import numpy as np
import pytest
from helpers import reference_losses as ref
from helpers.gan_fixtures import mlp_discriminator, mlp_generator
from keras import layers, ops

from kgan.losses import OrthogonalRegularization, R1Penalty
from kgan.training import OneStepGAN

LR = 0.1
RTOL, ATOL = 1e-4, 1e-6
BATCH = 16
Z_DIM = 4
NUM_CLASSES = 3
TF = keras.backend.backend() == "tensorflow"

# The formulations every loss can use.
FORMULATIONS = [
    "literal",
    "fused",
]


def conditional_generator(z_dim=Z_DIM, out_dim=2, hidden=16, seed=0):
    """`[z, labels] -> points`: a label embedding concatenated with z."""
    z = keras.Input((z_dim,), name="z")
    labels = keras.Input((), dtype="int32", name="labels")
    y = layers.Embedding(NUM_CLASSES, 4, name="g_embedding")(labels)
    x = layers.Concatenate()([z, y])
    x = layers.Dense(hidden, "relu", kernel_initializer=_init(seed))(x)
    x = layers.Dense(out_dim, "tanh", kernel_initializer=_init(seed + 1))(x)
    return keras.Model([z, labels], x, name="conditional_generator")


def conditional_discriminator(in_dim=2, hidden=16, seed=10):
    """`[points, labels] -> score`: a label embedding concatenated."""
    images = keras.Input((in_dim,), name="images")
    labels = keras.Input((), dtype="int32", name="labels")
    y = layers.Embedding(NUM_CLASSES, 4, name="d_embedding")(labels)
    x = layers.Concatenate()([images, y])
    x = layers.Dense(hidden, kernel_initializer=_init(seed))(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(1, kernel_initializer=_init(seed + 1))(x)
    return keras.Model([images, labels], x, name="conditional_discriminator")


def _init(seed):
    return keras.initializers.GlorotUniform(seed=seed)


def reference_step(
    g, d, data, labels, z, loss, formulation, g_weight, regs, extra=False
):
    """The update one SGD step on Su's loss must make, from hand-written
    losses. Returns the expected deltas, one array per trainable weight
    (D's weights, then G's), and `{"D" or "G": the share of that network's
    deltas due to its penalty}` for the networks that have one.

    D is called in training mode on the real batch, then on the fake batch:
    D's loss and the generator's term both see D in that state, whatever
    the formulation (Su's literal form runs D twice on the fakes, from the
    same state).

    With `extra`, D also takes `0.1 * mean(D(x)^2)` and both networks the
    shared `0.3 * (mean D(G(z)) - 1)^2` (`WithExtraTerms`).
    """
    d_loss_fn, g_loss_fn = ref.LOSSES[loss]
    data, z = ops.convert_to_tensor(data), ops.convert_to_tensor(z)
    if labels is not None:
        labels = ops.convert_to_tensor(labels)
    r1 = [r.gamma for r in regs if isinstance(r, R1Penalty)]
    ortho = [r.beta for r in regs if isinstance(r, OrthogonalRegularization)]

    def call_d(images):
        inputs = images if labels is None else [images, labels]
        return ref.scores(d(inputs, training=True))

    def forward():
        z_in = [z, labels] if labels is not None else z
        fake = g(z_in, training=True)
        fake_ng = ops.stop_gradient(fake)
        real_scores = call_d(data)
        # D's view of the fakes and G's are D in one state: one call serves
        # both (only D's gradient of "d" and G's of "g" are taken).
        fake_scores = g_view_scores = call_d(fake)
        d_pen = sum(ref.r1_penalty(call_d, data, gamma) for gamma in r1)
        g_pen = sum(
            ref.orthogonal_penalty(ref.regularised_kernels(g), beta)
            for beta in ortho
        )
        d_extra = shared = 0.0
        if extra:
            d_extra = 0.1 * ops.mean(ops.square(real_scores))
            shared = 0.3 * ops.square(ops.mean(g_view_scores) - 1.0)
        return {
            "d": d_loss_fn(real_scores, fake_scores, data, fake_ng)
            + d_pen
            + d_extra
            + shared,
            "g": g_weight * g_loss_fn(g_view_scores) + g_pen + shared,
            "d_pen": d_pen,
            "g_pen": g_pen,
        }

    d_vars, g_vars = d.trainable_variables, g.trainable_variables
    variables = d.variables + g.variables
    wrt = {"d": d_vars, "g": g_vars}
    if r1:
        wrt["d_pen"] = d_vars
    if ortho:
        wrt["g_pen"] = g_vars
    grads, start = ref.gradients(forward, variables, wrt)
    before = dict(zip(map(id, variables), ref.snapshot(variables)))
    start = dict(zip(map(id, variables), start))
    expected = [
        start[id(v)] - before[id(v)] - LR * grad
        for v, grad in zip(d_vars + g_vars, grads["d"] + grads["g"])
    ]
    # The penalties' own share of each network's deltas, where present.
    parts = {}
    if r1:
        parts["D"] = [-LR * grad for grad in grads["d_pen"]]
    if ortho:
        parts["G"] = [-LR * grad for grad in grads["g_pen"]]
    return expected, parts


class WithExtraTerms(OneStepGAN):
    """A term added to D's group and a shared one, as a user adds them."""

    def discriminator_terms(self, out, labels):
        terms = super().discriminator_terms(out, labels)
        terms["d_extra"] = 0.1 * ops.mean(ops.square(out["real_codes"]))
        return terms

    def shared_terms(self, out):
        mean = ops.mean(out["g_fake_codes"])
        return {"shared": 0.3 * ops.square(mean - 1.0)}


def run_case(
    loss,
    formulation,
    g,
    d,
    g_weight=1.0,
    regs=(),
    conditional=False,
    trainer=OneStepGAN,
):
    """One `fit` step against the reference."""
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, (BATCH, 2)).astype("float32")
    labels = (np.arange(BATCH) % NUM_CLASSES).astype("int32")
    labels = labels if conditional else None
    z = rng.normal(size=(BATCH, Z_DIM)).astype("float32")
    expected, penalty_part = reference_step(
        g, d, data, labels, z, loss, formulation, g_weight, regs,
        extra=trainer is WithExtraTerms,
    )  # fmt: skip

    gan = trainer(
        g,
        d,
        loss=loss,
        g_weight=g_weight,
        formulation=formulation,
        regularizers=list(regs),
        seed=0,
    )
    gan.sample_z = lambda batch_size: ops.convert_to_tensor(z)
    gan.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    weights = d.trainable_variables + g.trainable_variables
    before = ref.snapshot(weights)
    gan.fit(data, labels, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    if formulation == "auto":  # a term reading D(G(z)): no reversal
        assert gan.active_formulation == "fused"
    deltas = [a - b for a, b in zip(ref.snapshot(weights), before)]

    for v, got, want in zip(weights, deltas, expected):
        np.testing.assert_allclose(
            got, want, rtol=RTOL, atol=ATOL, err_msg=v.path
        )
    # A check that can fail: G moves.
    n_d = len(d.trainable_variables)
    assert max(np.abs(x).max() for x in deltas[n_d:]) > 1e-4
    # Dropping a penalty (or scaling it by g_weight) would miss the
    # tolerance a hundredfold somewhere: the checks above see such a bug.
    wanted = {"D": expected[:n_d], "G": expected[n_d:]}
    for side, part in penalty_part.items():
        worst = max(
            np.max(np.abs(p) / (ATOL + RTOL * np.abs(w)))
            for p, w in zip(part, wanted[side])
        )
        assert worst > 100, f"{side}'s penalty is too small to be seen"


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_hinge_with_batch_norm_and_orthogonal_regularisation(formulation):
    """hinge, BN in G and D, orthogonal regularisation on G, g_weight 0.5:
    G's update is `0.5 * grad g_loss + grad ortho` (the regulariser sits
    outside the zero-valued bracket and is not scaled by g_weight)."""
    run_case(
        "hinge",
        formulation,
        mlp_generator(z_dim=Z_DIM, batch_norm=True),
        mlp_discriminator(norm="batch"),
        g_weight=0.5,
        regs=[OrthogonalRegularization(beta=1e-2)],
    )


# Spectral normalisation writes its normalised kernel into the kernel
# variable on every training call, so D's kernels move by that as well as by
# `-lr * grad`; the reference makes the same calls in the same order. On
# TensorFlow the gradient treats each read of the kernel as a leaf; on JAX
# (one stateless scope) it flows through the normalisation, and Keras' JAX
# trainer keeps the pre-step kernel as the base of the update. The reference
# follows each backend. Su's literal bracket
# `g_loss(D(G(z))) - g_loss(D(sg G(z)))` cancels in D only if its two D
# calls see the same kernels: the trainer undoes the first call's rewrite
# before the second (without that, D took an extra ~0.5% here).
@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_ns_with_spectral_norm(formulation):
    """ns, spectral norm in D, g_weight 2: D still takes d_loss's gradient
    alone, though every D call renormalises its kernels."""
    run_case(
        "ns",
        formulation,
        mlp_generator(z_dim=Z_DIM),
        mlp_discriminator(norm="spectral"),
        g_weight=2.0,
    )


@pytest.mark.parametrize("formulation", ["reversal"] + FORMULATIONS)
def test_wgan_with_r1_and_orthogonal_regularisation(formulation):
    """wgan, R1 on D (second-order gradient), orthogonal regularisation on
    G, g_weight 1.5: the G regulariser keeps its full gradient under every
    formulation, the gradient-reversal one included."""
    run_case(
        "wgan",
        formulation,
        mlp_generator(z_dim=Z_DIM),
        mlp_discriminator(),
        g_weight=1.5,
        regs=[R1Penalty(gamma=1.0), OrthogonalRegularization(beta=1e-2)],
    )


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_lsgan_class_conditional(formulation):
    """lsgan with labels fed to both G and D."""
    run_case(
        "lsgan",
        formulation,
        conditional_generator(),
        conditional_discriminator(),
        conditional=True,
    )


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_gan_qp(formulation):
    """GAN-QP: D's loss also takes the (stop-gradient) images."""
    run_case(
        "gan-qp",
        formulation,
        mlp_generator(z_dim=Z_DIM, batch_norm=True),
        mlp_discriminator(),
        g_weight=1.0,
    )


@pytest.mark.parametrize("formulation", ["reversal", "auto"] + FORMULATIONS)
def test_an_added_d_term_and_a_shared_term_are_exact_everywhere(formulation):
    """A subclass adds a term to D's group and a shared one reading
    D(G(z)): every formulation gives D `grad(d_loss + d_extra + shared)`
    and G `g_weight * grad(g_loss) + grad(shared)`. Under reversal, a
    shared term read on the reversed view would reach G turned around and
    scaled by -g_weight (G's updates were up to 74% off here without the
    second pass)."""
    run_case(
        "wgan",
        formulation,
        mlp_generator(z_dim=Z_DIM, batch_norm=True),
        mlp_discriminator(norm="batch"),
        g_weight=1.5,
        trainer=WithExtraTerms,
    )


def test_reversal_rejects_a_loss_that_is_not_zero_sum():
    """Gradient reversal is exact only for a zero-sum pair (WGAN)."""
    with pytest.raises(ValueError, match="zero-sum"):
        gan = OneStepGAN(
            mlp_generator(z_dim=Z_DIM),
            mlp_discriminator(),
            loss="hinge",
            formulation="reversal",
        )
        gan.compile(optimizer=keras.optimizers.SGD(LR))
        gan.fit(np.zeros((4, 2), "float32"), batch_size=4, verbose=0)
