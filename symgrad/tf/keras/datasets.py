"""`keras.datasets.*.load_data()`: Keras downloads these; symgrad never uses the network, so each
loader raises an error that says how to pass arrays instead."""

from ...errors import UnsupportedError

EXAMPLE = (
    "from sklearn.datasets import load_digits; digits = load_digits(); "
    "x, y = digits.data / 16.0, digits.target  # 8x8 digits, 64 features; then model.fit(x, y, ...)"
)


class _Dataset:
    def __init__(self, name):
        self.name = name

    def load_data(self, *args, **kwargs):
        raise UnsupportedError(
            f"keras.datasets.{self.name}.load_data() downloads the data set, and symgrad.tf has no network access: "
            f"load it yourself as numpy arrays and pass those to fit/evaluate, e.g. {EXAMPLE}"
        )

    def __repr__(self):
        return f"<keras.datasets.{self.name}: load_data() needs arrays passed instead>"


mnist = _Dataset("mnist")
fashion_mnist = _Dataset("fashion_mnist")
cifar10 = _Dataset("cifar10")
cifar100 = _Dataset("cifar100")
imdb = _Dataset("imdb")
reuters = _Dataset("reuters")
boston_housing = _Dataset("boston_housing")
california_housing = _Dataset("california_housing")
