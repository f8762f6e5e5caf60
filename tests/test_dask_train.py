"""Training on dask data: full-batch and minibatch steps, checkpoints, and resuming exactly."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install 'symgrad[distributed]')")

import symgrad  # noqa: E402
from symgrad import models, nn  # noqa: E402
from symgrad.optim import SGD, Adam  # noqa: E402
from symgrad.train import fit, gradient_descent  # noqa: E402


@pytest.fixture(scope="module")
def seed():
    model = models.seed()
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(240, 4)), rng.uniform(size=(240, 1))
    columns = models.data_values(model, X, Y)
    lazy = {s: da.from_array(v, chunks=24) for s, v in columns.items()}
    return model, symgrad.compile(model), columns, lazy


def _as_vector(params, wrt):
    return np.concatenate([np.ravel(params[s]) for s in wrt])


def test_full_batch_descent_on_dask_matches_numpy_descent(seed):
    model, kernel, columns, lazy = seed
    want, want_losses = gradient_descent(kernel, model.initial_values(), columns, lr=0.01, epochs=15)
    got, losses = fit(kernel, model.initial_values(), lazy, SGD(lr=0.01), epochs=15)
    np.testing.assert_allclose(_as_vector(got, kernel.wrt), _as_vector(want, kernel.wrt), rtol=1e-12)
    np.testing.assert_allclose(losses[1:], want_losses[:-1], rtol=1e-12)  # fit: loss before each step
    assert losses[-1] < losses[0]


def test_minibatch_adam_matches_torch_adam_over_shuffled_chunks(seed):
    """One step per chunk, chunk order shuffled per epoch from the seed, Adam as torch.optim has it."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    model, kernel, columns, lazy = seed
    got, losses = fit(kernel, model.initial_values(), lazy, Adam(lr=0.05), epochs=3, minibatch=True, seed=11)
    assert len(losses) == 30
    rng = np.random.default_rng(11)
    theta = torch.tensor(_as_vector(model.initial_values(), kernel.wrt), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    for _ in range(3):
        for i in rng.permutation(10):
            rows = slice(24 * i, 24 * i + 24)
            values = {**{s: v[rows] for s, v in columns.items()}, **dict(zip(kernel.wrt, theta.detach().tolist()))}
            opt.zero_grad()
            theta.grad = torch.tensor(kernel.grad(values), dtype=torch.float64)
            opt.step()
    np.testing.assert_allclose(_as_vector(got, kernel.wrt), theta.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_matrix_model_trains_on_chunks():
    model = nn.matrix_mlp([4, 8, 3], mean=False, name="mlp_sum")
    kernel = symgrad.compile(model)
    X, Y = models.mlp_matrix_data(n_per_class=40)
    lazy = {model.inputs[0]: da.from_array(X, chunks=(30, -1)), model.targets[0]: da.from_array(Y, chunks=(30, -1))}
    got, losses = fit(kernel, model.initial_values(), lazy, Adam(lr=0.02), epochs=10, minibatch=True, seed=0)
    assert {s: np.shape(v) for s, v in got.items()} == {s: np.shape(v) for s, v in model.initial_values().items()}
    full = kernel.loss({model.inputs[0]: X, model.targets[0]: Y, **got})
    assert full < 0.5 * kernel.loss({model.inputs[0]: X, model.targets[0]: Y, **model.initial_values()})


class Crash(Exception):
    pass


@pytest.mark.parametrize("make_optimizer", [lambda: SGD(0.02), lambda: Adam(0.05)], ids=["sgd", "adam"])
def test_resume_after_a_crash_between_checkpoints_reproduces_the_run(seed, tmp_path, make_optimizer):
    model, kernel, columns, lazy = seed
    kwargs = dict(epochs=3, minibatch=True, seed=5)
    want, want_losses = fit(kernel, model.initial_values(), lazy, make_optimizer(), **kwargs)

    def crash_at_17(step, params):
        if step == 17:  # between the checkpoints after steps 14 and 21
            raise Crash

    with pytest.raises(Crash):
        fit(kernel, model.initial_values(), lazy, make_optimizer(), checkpoint=tmp_path, every=7,
            callback=crash_at_17, **kwargs)
    got, losses = fit(kernel, model.initial_values(), lazy, make_optimizer(), checkpoint=tmp_path, every=7,
                      resume=tmp_path, **kwargs)
    assert _as_vector(got, kernel.wrt).tolist() == _as_vector(want, kernel.wrt).tolist()  # bit for bit
    assert losses.tolist() == want_losses.tolist()


def test_resume_of_a_finished_run_continues_with_more_epochs(seed, tmp_path):
    model, kernel, columns, lazy = seed
    want, _ = fit(kernel, model.initial_values(), lazy, Adam(0.05), epochs=4, minibatch=True, seed=2)
    fit(kernel, model.initial_values(), lazy, Adam(0.05), epochs=2, minibatch=True, seed=2, checkpoint=tmp_path)
    got, losses = fit(kernel, model.initial_values(), lazy, Adam(0.05), epochs=4, minibatch=True, seed=2,
                      resume=tmp_path)
    assert len(losses) == 40
    assert _as_vector(got, kernel.wrt).tolist() == _as_vector(want, kernel.wrt).tolist()


def test_resume_with_other_settings_is_refused(seed, tmp_path):
    model, kernel, columns, lazy = seed
    fit(kernel, model.initial_values(), lazy, SGD(0.01), epochs=1, minibatch=True, checkpoint=tmp_path)
    with pytest.raises(symgrad.InvalidArgumentError, match=r"another run.*optimizer"):
        fit(kernel, model.initial_values(), lazy, SGD(0.02), epochs=2, minibatch=True, resume=tmp_path)
    with pytest.raises(symgrad.InvalidArgumentError, match="no checkpoint"):
        fit(kernel, model.initial_values(), lazy, resume=tmp_path / "nowhere")


def test_checkpoint_file_is_replaced_atomically(seed, tmp_path):
    model, kernel, columns, lazy = seed
    fit(kernel, model.initial_values(), lazy, SGD(0.01), epochs=2, minibatch=True, checkpoint=tmp_path, every=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]  # no temporary files left


def test_progress_bar_counts_epochs(seed, capsys):
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    model, kernel, columns, lazy = seed
    fit(kernel, model.initial_values(), lazy, SGD(0.01), epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "3/3" in err
