"""A Keras layer or model whose `seed_generator` state is saved with its
weights: a reloaded one draws what the saved one would have drawn next.

Keras saves a layer's own variables, not its `SeedGenerator`'s state."""

from keras import ops


class SavedSeedState:
    """Mixin (before the Keras base class) for an object that keeps its
    random draws in `self.seed_generator`."""

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_state"] = ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store):
        if "seed_state" in store.keys():  # files written before: no state
            self.seed_generator.state.assign(store["seed_state"])
        super().load_own_variables(
            {k: store[k] for k in store.keys() if k != "seed_state"}
        )
