"""The generative model types gmm, vae and mdn: fit, sample (seeded), score, and round-trip through safetensors."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from tutelage import generative, nn
from tutelage.errors import DataError, ModelFileError, SpecError
from tutelage.generative import GenerativeModel
from tutelage.plugins import registry


def build(name, *args, **options):
    return registry("model_types").get(name).build(*args, **options)


def test_gmm_recovers_a_mixture_and_samples_reproducibly():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-4, 0.5, (600, 2)), rng.normal(3, 1.0, (400, 2))])
    for covariance in ("full", "diag"):
        gmm = build("gmm", (2,), 2, seed=0, components=2, covariance=covariance).fit(x)
        assert isinstance(gmm, GenerativeModel)
        order = np.argsort(gmm.means[:, 0])
        np.testing.assert_allclose(gmm.weights[order], [0.6, 0.4], atol=0.03)
        np.testing.assert_allclose(gmm.means[order], [[-4, -4], [3, 3]], atol=0.15)
        a, b = gmm.sample(300, seed=5), gmm.sample(300, seed=5)
        assert np.array_equal(a, b) and not np.array_equal(a, gmm.sample(300, seed=6))
        assert gmm.log_prob(x).mean() > -3.5


def test_one_component_gmm_is_the_gaussian_mle():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 3))
    gmm = build("gmm", (3,), 3, components=1, reg_covar=0.0).fit(x)
    np.testing.assert_allclose(gmm.means[0], x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(gmm.covariances[0], np.cov(x.T, ddof=0), atol=1e-10)
    from scipy.stats import multivariate_normal

    np.testing.assert_allclose(gmm.log_prob(x[:5]), multivariate_normal(x.mean(0), np.cov(x.T, ddof=0)).logpdf(x[:5]))


def test_vae_learns_digits_and_round_trips(tmp_path):
    from sklearn.datasets import load_digits

    x = load_digits().data[:600] / 16.0
    vae = build("vae", (64,), 64, seed=0, epochs=8, hidden=(64,))
    before = vae.elbo(x[500:]).mean()
    vae.fit(x[:500])
    after = vae.elbo(x[500:]).mean()
    assert after > before + 5 and vae.history[-1] < vae.history[0]
    samples = vae.sample(20, seed=3)
    assert samples.shape == (20, 64) and np.array_equal(samples, vae.sample(20, seed=3))
    assert 0 <= samples.min() and samples.max() <= 1
    path = tmp_path / "vae.safetensors"
    ident = vae.save(path, lineage={"method": "vae", "dataset": "digits"})
    loaded = nn.load(path)
    assert loaded.info["id"] == ident and loaded.info["model_type"] == "vae"
    np.testing.assert_array_equal(loaded.log_prob(x[500:]), vae.log_prob(x[500:]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        vae.fit(x * 16)


def test_vae_on_numeric_columns_uses_a_gaussian_decoder():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(800, 1))
    x = np.concatenate([3 * z + 10, -z + 0.1 * rng.normal(size=(800, 1)), rng.normal(size=(800, 1))], axis=1)
    vae = build("vae", (3,), 3, seed=0, likelihood="gaussian", latent=2, hidden=(32,), epochs=40).fit(x)
    samples = vae.sample(2000, seed=0)
    np.testing.assert_allclose(samples.mean(axis=0), x.mean(axis=0), atol=0.4)
    assert np.corrcoef(samples[:, 0], samples[:, 1])[0, 1] < -0.7  # the shared latent is learned


def test_mdn_fits_a_bimodal_conditional_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (1500, 1))
    branch = rng.random((1500, 1)) < 0.5
    y = np.where(branch, x + 2, -x - 2) + 0.1 * rng.normal(size=(1500, 1))
    mdn = build("mdn", (1,), 1, seed=0, components=3, hidden=(32,), epochs=40).fit(y, given=x)
    sampled = mdn.sample(1500, seed=1, given=x)
    assert np.array_equal(sampled, mdn.sample(1500, seed=1, given=x))
    near = np.minimum(np.abs(sampled - (x + 2)), np.abs(sampled - (-x - 2)))
    assert np.median(near) < 0.2 and 0.35 < np.mean(sampled > 0) < 0.65  # both branches, not their mean
    path = tmp_path / "mdn.safetensors"
    mdn.save(path)
    np.testing.assert_allclose(nn.load(path).log_prob(y[:10], given=x[:10]), mdn.log_prob(y[:10], given=x[:10]))
    with pytest.raises(DataError, match="given="):
        mdn.sample(3, seed=0)


def test_bad_options_and_edited_files_are_named(tmp_path):
    with pytest.raises(SpecError, match="covariance"):
        build("gmm", (2,), 2, covariance="spherical")
    with pytest.raises(SpecError, match="output_size"):
        build("vae", (4,), 3)
    gmm = build("gmm", (1,), 1, components=1).fit(np.arange(10.0))
    path = tmp_path / "gmm.safetensors"
    gmm.save(path, metadata={"note": "x"})
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        header = handle.metadata()
    tensors = load_file(str(path))
    tensors["means"] = tensors["means"] + 1
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(ModelFileError, match="does not match its id"):
        nn.load(path)


def test_module_examples_run():
    assert doctest.testmod(generative).failed == 0


def test_vae_and_mdn_train_on_dataset_columns(tmp_path):
    from tutelage.rollouts.generate import generate

    root = tmp_path / "pendulum"
    generate("Pendulum-v1", "random", 8, root, max_steps=50, seed=0)
    state = generative.dataset_rows(root, ["observation.state"])
    action = generative.dataset_rows(root, ["action"])
    assert state.shape == (400, 3) and action.shape == (400, 1)
    # cos θ and sin θ lie on the unit circle: the VAE's samples should stay near it
    vae = build("vae", (3,), 3, seed=0, likelihood="gaussian", latent=2, hidden=(32,), epochs=60).fit(state)
    radius = np.hypot(*vae.sample(500, seed=0)[:, :2].T)
    assert abs(np.median(radius) - 1) < 0.15
    assert vae.log_prob(state).mean() > build("gmm", (3,), 3, components=1, covariance="diag").fit(state).log_prob(state).mean()
    # random actions do not depend on the state: the MDN's p(action | state) is about uniform on [-2, 2]
    mdn = build("mdn", (3,), 1, seed=0, components=3, hidden=(16,), epochs=30).fit(action, given=state)
    assert -mdn.log_prob(action, given=state).mean() == pytest.approx(np.log(4), abs=0.25)
    with pytest.raises(DataError, match="no column"):
        generative.dataset_rows(root, ["observation.missing"])
