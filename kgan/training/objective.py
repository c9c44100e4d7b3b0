"""A GAN's objective as groups of terms, by who takes their gradient.

Su's single loss (https://kexue.fm/archives/6387) and the alternating
trainer's two losses are sums of the same terms; what differs is which
network each term trains:

- D's terms (`d_loss`, D's penalties): D alone (the fakes in them carry no
  gradient);
- G's terms: G's adversarial loss `g_loss` on D's view of `G(z)`, which
  enters weighted by `g_weight`, and G's regularisers, which G alone takes;
- shared terms (O-GAN's correlation): both networks, in full.

Every path sums these groups here, and only here: the one-step trainer's
`total` (Su's form, where `g_loss` enters through the zero-valued bracket),
its fused step's `d_total` and `g_total`, and the alternating trainer's
two steps. A term added to a group reaches them all.
"""

from keras import ops


def _sum(terms):
    total = ops.zeros((), "float32")
    for value in terms.values():
        total = total + ops.cast(value, "float32")
    return total


class Objective:
    """The terms of one step's objective, grouped.

    Args:
        d_terms: `{name: scalar}` D takes alone.
        g_terms: `{name: scalar}` G takes alone; `"g_loss"`, G's
            adversarial loss, is weighted by `g_weight`.
        shared_terms: `{name: scalar}` both networks take in full.
        g_weight: lambda, the weight of G's adversarial loss.
        bracket: the one-step form's `g_loss(D(G(z))) - g_loss(D(sg
            G(z)))`: zero in value, G's adversarial gradient in effect.
            None outside the one-step form (or where another mechanism,
            gradient reversal, hands G that gradient: pass 0).
    """

    def __init__(self, d_terms, g_terms, shared_terms, g_weight=1.0,
                 bracket=None):  # fmt: skip
        self.d_terms = dict(d_terms)
        self.g_terms = dict(g_terms)
        self.shared_terms = dict(shared_terms)
        self.g_weight = g_weight
        self.bracket = bracket

    @property
    def g_regularizers(self):
        """G's terms other than its adversarial loss."""
        return {k: v for k, v in self.g_terms.items() if k != "g_loss"}

    @property
    def d_total(self):
        """What D minimises: its terms and the shared ones."""
        return _sum(self.d_terms) + _sum(self.shared_terms)

    @property
    def g_total(self):
        """What G minimises: `g_weight * g_loss`, its regularisers and the
        shared terms."""
        adversarial = self.g_terms.get("g_loss", 0.0)
        return (
            self.g_weight * adversarial
            + _sum(self.g_regularizers)
            + _sum(self.shared_terms)
        )

    @property
    def total(self):
        """Su's single loss: D's terms, `g_weight` times the bracket, G's
        regularisers (outside the bracket: inside, they would cancel) and
        the shared terms, each once."""
        if self.bracket is None:
            raise ValueError(
                "`total` is the one-step form's single loss: it needs the "
                "bracket (pass `bracket=`)."
            )
        return (
            _sum(self.d_terms)
            + self.g_weight * self.bracket
            + _sum(self.g_regularizers)
            + _sum(self.shared_terms)
        )

    def logged(self):
        """`{"d_loss": D's terms, "g_loss": G's terms}`, as the trackers
        log them (G's adversarial loss unweighted)."""
        return {"d_loss": _sum(self.d_terms), "g_loss": _sum(self.g_terms)}
