import dataclasses
import json
import math

import pytest
import torch

from AttriVAELib.config import LossConfig, RunConfig, preset
from AttriVAELib.errors import InvalidConfigError
from AttriVAELib.method.losses import (
    attribute_regularization_loss,
    classifier_loss,
    kl_divergence,
    l1_penalty,
    reconstruction_loss,
    total_loss,
)
from AttriVAELib.method.model import VAEOutput

RECON = torch.tensor([0.5, 0.9, 0.2, 0.4]).view(2, 1, 1, 1, 2)  # sigmoid outputs
TARGET = torch.tensor([1.0, 1.0, 0.0, 1.0]).view(2, 1, 1, 1, 2)


def test_bce_reconstruction_sums_voxels_and_averages_batch():
    expected = -(math.log(0.5) + math.log(0.9) + math.log(0.8) + math.log(0.4)) / 2
    assert reconstruction_loss(torch.logit(RECON), TARGET, "bce").item() == pytest.approx(expected, rel=1e-5)


def test_mse_reconstruction_sums_voxels_and_averages_batch():
    expected = (0.25 + 0.01 + 0.04 + 0.36) / 2
    assert reconstruction_loss(torch.logit(RECON), TARGET, "mse").item() == pytest.approx(expected, rel=1e-5)


def test_bce_from_logits_stays_finite_where_the_sigmoid_saturates():
    logits = torch.tensor([-200.0, 200.0]).view(1, 1, 1, 1, 2)
    target = torch.tensor([0.0, 1.0]).view(1, 1, 1, 1, 2)
    assert reconstruction_loss(logits, target, "bce").item() == pytest.approx(0.0, abs=1e-6)


def test_kl_matches_the_closed_form():
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # sample 1: ½(1 + 1 − 1 − 0) + ½(0 + 4 − 1 − ln 4); sample 2: 0 + ½·4
    expected = (0.5 + 0.5 * (3 - math.log(4.0)) + 2.0) / 2
    assert kl_divergence(mu, logvar).item() == pytest.approx(expected, rel=1e-6)


def test_classifier_loss_is_bce_on_sigmoid_probabilities():
    logits = torch.tensor([0.0, math.log(3.0)])  # p = 0.5, 0.75
    labels = torch.tensor([1, 0])
    expected = -(math.log(0.5) + math.log(0.25)) / 2
    assert classifier_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_attribute_loss_on_three_samples_with_ties():
    z = torch.tensor([[0.0, 5.0], [0.1, 5.0], [0.3, 5.0]])
    attributes = torch.tensor([[1.0], [1.0], [3.0]])  # samples 0 and 1 tie
    delta = 10.0
    t1, t2, t3 = math.tanh(1.0), math.tanh(3.0), math.tanh(2.0)  # δ·|Δz| for pairs (0,1), (0,2), (1,2)
    # pairs (0,1),(1,0): sign 0 → |tanh| = t1; (0,2),(2,0): |∓t2 ± 1| = 1 − t2; (1,2),(2,1): 1 − t3
    expected = (2 * t1 + 2 * (1 - t2) + 2 * (1 - t3)) / 9
    assert attribute_regularization_loss(z, attributes, delta).item() == pytest.approx(expected, rel=1e-6)


def test_attribute_loss_sums_over_attributes_and_ignores_scale():
    z = torch.tensor([[0.0, 1.0], [0.2, 0.0], [0.1, 0.5]])
    a = torch.tensor([[1.0, 10.0], [3.0, 0.0], [2.0, 5.0]])
    separate = sum(attribute_regularization_loss(z[:, k:k + 1], a[:, k:k + 1], 10.0) for k in range(2))
    assert attribute_regularization_loss(z, a, 10.0).item() == pytest.approx(separate.item(), rel=1e-6)
    assert attribute_regularization_loss(z, a * 1000.0, 10.0).item() == pytest.approx(separate.item(), rel=1e-6)


def test_attribute_loss_is_zero_without_attributes():
    assert attribute_regularization_loss(torch.rand(4, 3), torch.empty(4, 0), 10.0).item() == 0.0


def test_l1_penalty_sums_absolute_weights():
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0]]))
        layer.bias.fill_(-0.5)
    assert l1_penalty(layer).item() == pytest.approx(3.5)


def test_total_is_the_weighted_sum_of_the_terms():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 2, 2, 2)
    logits = torch.randn(3, 1, 2, 2, 2)
    output = VAEOutput(torch.sigmoid(logits), logits, torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4),
                       torch.randn(3))
    labels, attributes = torch.tensor([0, 1, 1]), torch.randn(3, 2)
    layer = torch.nn.Linear(2, 2)
    config = LossConfig(beta=2.0, alpha=0.5, gamma=7.0, delta=3.0, l1_weight=0.1)
    terms = total_loss(output, x, labels, attributes, config, model=layer)
    expected = terms["recon"] + 2.0 * terms["kl"] + 0.5 * terms["classifier"] + 7.0 * terms["ar"] + 0.1 * terms["l1"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    annealed = total_loss(output, x, labels, attributes, config, beta=0.0, model=layer)
    assert annealed["total"].item() == pytest.approx((expected - 2.0 * terms["kl"]).item(), rel=1e-6)


def test_presets_hold_the_paper_and_code_values():
    paper, code = preset("paper"), preset("official-code")
    assert (paper.loss.beta, paper.loss.gamma, paper.loss.delta, paper.loss.reconstruction) == (2.0, 200.0, 10.0, "bce")
    assert paper.loss.l1_weight == 0.0 and paper.preprocess.mode == "physical"
    assert (code.loss.beta, code.loss.gamma, code.loss.delta, code.loss.reconstruction) == (2.0, 10.0, 100.0, "mse")
    assert code.loss.l1_weight == 5e-5 and code.preprocess.mode == "official-code" and code.preprocess.gamma == 5.0
    assert (paper.train.augment_probability, code.train.augment_probability) == (0.0, 0.1)
    assert (paper.train.learning_rate, paper.train.batch_size) == (1e-4, 16)


@pytest.mark.parametrize(("data", "message"), [
    ({"model": {"input_size": "80"}}, "input_size \\(--cube-size\\) = .80. must be a whole number"),
    ({"model": 5}, "must be a JSON object"),
    ({"attributes": "lv_volume_ml"}, "list of names"),
    ({"loss": {"gamma": -1}}, "gamma=-1"),
    ({"training": {}}, "unknown config keys"),
    ({"preset": "fast"}, "unknown preset"),
    ({"preprocess": {"clip_percentiles": [1, 2, 3]}}, "clip_percentiles = \\[1, 2, 3\\] must be a list of 2 finite"),
    ({"train": {"learning_rate": 10**400}}, "learning_rate .* must be a finite number"),
    ({"train": {"oversample": "yes"}}, "oversample = 'yes' must be true or false"),
    ({"model": {"hidden_sizes": [128, 96.5]}}, "hidden_sizes = \\[128, 96.5\\] must be a list of whole numbers"),
])
def test_bad_config_values(data, message):
    with pytest.raises(InvalidConfigError, match=message):
        RunConfig.from_dict(data)


def test_with_preset_carries_the_changed_settings_and_keeps_the_presets_own():
    config = RunConfig.from_dict({"model": {"input_size": 32}, "train": {"epochs": 7}, "attributes": ["a"]})
    switched = config.with_preset("beta-vae")
    assert (switched.model.input_size, switched.train.epochs, switched.attributes) == (32, 7, ("a",))
    assert (switched.loss.alpha, switched.loss.gamma, switched.loss.beta) == (0.0, 0.0, 2.0)
    assert preset("vae").loss.beta == 1.0 and preset("ar-vae").loss.gamma == 200.0
    official = config.with_preset("official-code")  # its own loss, preprocessing and augmentation stay
    assert (official.loss.delta, official.preprocess.mode, official.train.augment_probability) == (
        100.0, "official-code", 0.1)
    assert official.with_preset("paper") == dataclasses.replace(config, preset="paper")  # and back


def test_the_compact_preset_is_the_paper_with_no_dropout_and_16_latent_dims():
    compact, paper = preset("attri-vae-compact"), preset("paper")
    assert (compact.model.latent_size, compact.model.dropout) == (16, 0.0)
    assert dataclasses.replace(compact, preset="paper", model=paper.model) == paper  # nothing else differs
    assert RunConfig.from_dict(json.loads(json.dumps(compact.to_dict()))) == compact  # config.json round trip
    assert paper.with_preset("attri-vae-compact") == compact and compact.with_preset("paper") == paper


def test_the_compact_preset_weighs_the_loss_terms_as_the_paper():
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 16, generator=generator), 0.1 * torch.randn(4, 16, generator=generator)
    output = VAEOutput(recon=torch.full((4, 1, 1, 1, 2), 0.5), recon_logits=torch.zeros(4, 1, 1, 1, 2), mu=mu,
                       logvar=logvar, z=mu, logits=torch.tensor([0.0, 1.0, -1.0, 2.0]))
    target = torch.ones(4, 1, 1, 1, 2)
    labels, attributes = torch.tensor([0, 1, 0, 1]), torch.randn(4, 7, generator=generator)
    terms = total_loss(output, target, labels, attributes, preset("attri-vae-compact").loss)
    recon = 2 * math.log(2.0)  # BCE of p = 0.5 against 1, two voxels per volume
    kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1).mean()  # over all 16 dims
    ar = attribute_regularization_loss(mu[:, :7], attributes, 10.0)
    classifier = classifier_loss(output.logits, labels)
    assert terms["recon"].item() == pytest.approx(recon, rel=1e-6)
    assert terms["total"].item() == pytest.approx((recon + 2.0 * kl + classifier + 200.0 * ar).item(), rel=1e-6)
