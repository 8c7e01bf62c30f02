"""HQ-SSL likelihood and posterior formulas against direct numerical computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers_engine import untrained_model

from napari_blindspot.engine.methods.hqssl.method import REGULARIZER, HQSSLNet
from napari_blindspot.engine.methods.hqssl.noise import MIN_VARIANCE, KnownGaussian, LearnedGaussian
from napari_blindspot.engine.methods.hqssl.posterior import (lower_triangular, nll_diagonal, nll_full, posterior_full,
                                               posterior_mean_diagonal, posterior_std_diagonal)


_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a):
    return torch.from_numpy(np.asarray(a, np.float64))


# ---------------------------------------------------------------- one channel
def test_nll_diagonal_is_gaussian_nll():
    rng = _rng(0)
    shape = (2, 1, 5, 6)
    y, mu = rng.normal(size=shape), rng.normal(size=shape)
    vx, vn = rng.uniform(0.01, 2, size=shape), rng.uniform(0.01, 2, size=shape)
    got = nll_diagonal(_t(y), _t(mu), _t(vx), _t(vn)).numpy()
    v = vx + vn
    log_pdf = -0.5 * np.log(2 * np.pi * v) - (y - mu) ** 2 / (2 * v)
    np.testing.assert_allclose(got, -log_pdf - 0.5 * np.log(2 * np.pi), rtol=1e-12, atol=1e-12)


def _posterior_by_integration(y, mu, vx, vn):
    """Mean and std of p(x | y) ∝ N(x; mu, vx) N(y; x, vn), by quadrature on a fine grid."""
    sd = np.sqrt(min(vx, vn))
    centre = (y * vx + mu * vn) / (vx + vn)
    x = np.linspace(centre - 12 * sd, centre + 12 * sd, 20001)
    logp = -(x - mu) ** 2 / (2 * vx) - (y - x) ** 2 / (2 * vn)
    p = np.exp(logp - logp.max())
    z = _trapezoid(p, x)
    mean = _trapezoid(x * p, x) / z
    var = _trapezoid((x - mean) ** 2 * p, x) / z
    return mean, np.sqrt(var)


def test_posterior_mean_and_std_diagonal_match_numerical_integration():
    rng = _rng(1)
    n = 25
    y, mu = rng.normal(0, 2, n), rng.normal(0, 2, n)
    vx, vn = rng.uniform(0.02, 3, n), rng.uniform(0.02, 3, n)
    mean = posterior_mean_diagonal(_t(y), _t(mu), _t(vx), _t(vn)).numpy()
    std = posterior_std_diagonal(_t(vx), _t(vn)).numpy()
    for i in range(n):
        m_ref, s_ref = _posterior_by_integration(y[i], mu[i], vx[i], vn[i])
        assert mean[i] == pytest.approx(m_ref, rel=1e-6, abs=1e-8)
        assert std[i] == pytest.approx(s_ref, rel=1e-6)


def test_posterior_limits():
    y, mu = _t([3.0]), _t([1.0])
    # no noise: the observation itself; no prior uncertainty: the prior mean
    assert posterior_mean_diagonal(y, mu, _t([1.0]), _t([1e-12])).item() == pytest.approx(3.0)
    assert posterior_mean_diagonal(y, mu, _t([1e-12]), _t([1.0])).item() == pytest.approx(1.0)
    assert posterior_std_diagonal(_t([2.0]), _t([2.0])).item() == pytest.approx(1.0)


def test_half_precision_inputs_are_widened():
    h = torch.ones(2, 1, 3, 3, dtype=torch.float16)
    assert nll_diagonal(h, h, h, h).dtype == torch.float32
    assert posterior_mean_diagonal(h, h, h, h).dtype == torch.float32
    assert posterior_std_diagonal(h, h).dtype == torch.float32


# ---------------------------------------------------------------- several channels
def _random_case(seed, c=3, batch=2, spatial=(4, 5)):
    rng = _rng(seed)
    y = rng.normal(size=(batch, c) + spatial)
    mu = rng.normal(size=(batch, c) + spatial)
    a = rng.normal(size=(batch,) + spatial + (c, c))
    cov_x = a @ np.swapaxes(a, -1, -2) + 0.1 * np.eye(c)
    var_n = rng.uniform(0.05, 1.5, size=(batch, c) + spatial)
    return y, mu, cov_x, var_n


@pytest.mark.parametrize("c", [1, 2, 3])
def test_posterior_full_matches_information_form(c):
    y, mu, cov_x, var_n = _random_case(2, c)
    mean, std = posterior_full(_t(y), _t(mu), _t(cov_x), _t(var_n))
    assert mean.shape == y.shape and std.shape == y.shape
    for idx in np.ndindex(y.shape[0], *y.shape[2:]):
        b, sp = idx[0], idx[1:]
        sel = (b, slice(None)) + sp
        sx = cov_x[(b,) + sp]
        sn = np.diag(var_n[sel])
        sx_inv, sn_inv = np.linalg.inv(sx), np.linalg.inv(sn)
        post_cov = np.linalg.inv(sx_inv + sn_inv)
        expected = post_cov @ (sx_inv @ mu[sel] + sn_inv @ y[sel])
        np.testing.assert_allclose(mean.numpy()[sel], expected, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(std.numpy()[sel], np.sqrt(np.diag(post_cov)), rtol=1e-9)


def test_posterior_full_single_channel_equals_diagonal():
    y, mu, cov_x, var_n = _random_case(3, 1)
    mean, std = posterior_full(_t(y), _t(mu), _t(cov_x), _t(var_n))
    var_x = np.moveaxis(cov_x[..., 0, 0][:, None], 1, 1)
    np.testing.assert_allclose(mean.numpy(), posterior_mean_diagonal(_t(y), _t(mu), _t(var_x), _t(var_n)).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(std.numpy(), posterior_std_diagonal(_t(var_x), _t(var_n)).numpy(), rtol=1e-10)


@pytest.mark.parametrize("c", [1, 2, 3])
def test_nll_full_matches_numpy(c):
    y, mu, cov_x, var_n = _random_case(4, c)
    got = nll_full(_t(y), _t(mu), _t(cov_x), _t(var_n)).numpy()
    assert got.shape == (y.shape[0],) + y.shape[2:]
    for idx in np.ndindex(got.shape):
        b, sp = idx[0], idx[1:]
        sel = (b, slice(None)) + sp
        sy = cov_x[(b,) + sp] + np.diag(var_n[sel])
        d = y[sel] - mu[sel]
        _, logdet = np.linalg.slogdet(sy)
        expected = 0.5 * logdet + 0.5 * d @ np.linalg.solve(sy, d)
        assert got[idx] == pytest.approx(expected, rel=1e-10, abs=1e-12)
        # and it is the Gaussian negative log-density up to the constant
        log_pdf = -0.5 * (c * np.log(2 * np.pi) + logdet + d @ np.linalg.inv(sy) @ d)
        assert got[idx] == pytest.approx(-log_pdf - 0.5 * c * np.log(2 * np.pi), rel=1e-10, abs=1e-12)


def test_lower_triangular_layout():
    comps = torch.arange(1, 7, dtype=torch.float64).reshape(1, 6, 1, 1)  # C=3: 6 components
    L = lower_triangular(comps, 3)[0, 0, 0]
    expected = torch.tensor([[1, 0, 0], [2, 3, 0], [4, 5, 6]], dtype=torch.float64)
    assert torch.equal(L, expected)


# ---------------------------------------------------------------- HQSSLNet plumbing
class _Fixed(torch.nn.Module):
    def __init__(self, out: torch.Tensor) -> None:
        super().__init__()
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out


def test_prior_single_and_multichannel():
    rng = _rng(5)
    raw = torch.from_numpy(rng.normal(size=(1, 2, 3, 4))).float()
    mu, var = HQSSLNet(_Fixed(raw), None, 1).prior(torch.zeros(1, 1, 3, 4))
    assert torch.equal(mu, raw[:, :1])
    # log-Cholesky: the variance is exp(2 * output)
    torch.testing.assert_close(var, torch.exp(2 * raw[:, 1:]) + MIN_VARIANCE)
    raw2 = torch.from_numpy(rng.normal(size=(1, 2 + 3, 3, 4))).float()
    mu2, cov = HQSSLNet(_Fixed(raw2), None, 2).prior(torch.zeros(1, 2, 3, 4))
    assert mu2.shape == (1, 2, 3, 4) and cov.shape == (1, 3, 4, 2, 2)
    L = lower_triangular(raw2[:, 2:], 2)
    d = torch.diagonal(L, dim1=-2, dim2=-1)
    L = L - torch.diag_embed(d) + torch.diag_embed(torch.exp(d))  # positive diagonal factor
    torch.testing.assert_close(cov, L @ L.transpose(-1, -2) + MIN_VARIANCE * torch.eye(2))
    assert torch.all(torch.linalg.eigvalsh(cov) > 0)  # a valid covariance


def test_hqssl_loss_and_infer_use_the_formulas():
    model = untrained_model("hqssl", noise_model="gaussian")
    method = model.method
    rng = _rng(6)
    raw = torch.from_numpy(rng.normal(size=(2, 2, 8, 8))).float()
    noise = LearnedGaussian(1, initial_sigma=0.7)
    net = HQSSLNet(_Fixed(raw), noise, 1)
    y = torch.from_numpy(rng.normal(size=(2, 1, 8, 8))).float()
    mu, vx = raw[:, :1], torch.exp(2 * raw[:, 1:]) + MIN_VARIANCE
    vn = torch.full_like(mu, float(noise.sigma().detach()) ** 2)
    loss = method.loss(net, y[None], torch.Generator())
    # a learned noise level gets the regulariser, on log sigma_n (independent of the units)
    expected = nll_diagonal(y, mu, vx, vn).mean() - REGULARIZER * torch.log(vn.sqrt()).mean()
    torch.testing.assert_close(loss, expected)
    noise.raw.requires_grad_(False)  # a fixed (calibrated) one gets none
    torch.testing.assert_close(method.loss(net, y[None], torch.Generator()), nll_diagonal(y, mu, vx, vn).mean())
    out = method.infer(net, y)
    torch.testing.assert_close(out["denoised"], (y * vx + mu * vn) / (vx + vn))
    torch.testing.assert_close(out["std"], torch.sqrt(vx * vn / (vx + vn)))
    # a known noise level has no regulariser
    known = HQSSLNet(_Fixed(raw), KnownGaussian(0.7, 1.0), 1)
    vn_known = torch.full_like(mu, 0.49)
    torch.testing.assert_close(method.loss(known, y[None], torch.Generator()),
                               nll_diagonal(y, mu, vx, vn_known).mean())


def test_model_uncertainty_is_posterior_std_in_intensity_units():
    # float32 throughout: this checks the formulas, not the (bfloat16) mixed precision
    model = untrained_model("hqssl", noise_model="gaussian-known", noise_sigma=6.0, mean=50.0, std=10.0,
                            mixed_precision=False)
    img = (50 + 10 * _rng(7).normal(size=(32, 40))).astype(np.float32)
    res = model.predict(img, "YX", uncertainty=True)
    x = torch.from_numpy((img[None, None] - 50.0) / 10.0)
    with torch.no_grad():
        mu, vx = model.net.prior(x)
    vn = (6.0 / 10.0) ** 2
    expected_mean = ((x * vx + mu * vn) / (vx + vn))[0, 0].numpy() * 10.0 + 50.0
    expected_std = torch.sqrt(vx * vn / (vx + vn))[0, 0].numpy() * 10.0
    np.testing.assert_allclose(res["denoised"], expected_mean, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(res["uncertainty"], expected_std, rtol=1e-5, atol=1e-4)
    assert np.all(res["uncertainty"] < 6.0)  # the posterior is narrower than the noise
