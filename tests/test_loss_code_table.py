# ruff: noqa: E501 - the losses keep the line lengths of the repositories they come from
"""Real VAE loss functions from public repositories, read by derivations.loss_code.

Each entry is a loss as it appears in the named repository (trimmed to the lines that compute it;
where a repository only has helpers, the one line that combines them is ours and says so), with
β and σ² (or the Laplace scale b) worked out by hand in the comment beside it:
a multiplies Σ_n Σ_d ℓ, k multiplies Σ_n KL_n, β = k/a, σ² = β/2 (squared error), b = β (L1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from derivations import implied_sigma
from derivations.loss_code import LossCodeError, MissingNames, read


@dataclass(frozen=True)
class Case:
    repo: str
    code: str
    shape: tuple
    J: int
    B: int
    family: str
    beta: float
    names: dict | None = None
    framework: str = "torch"


MNIST = (1, 28, 28)
CASES = [
    Case(  # BCE summed over B·D, KL summed over B·J: a = 1, k = 1, β = 1
        "pytorch/examples vae/main.py",
        """
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD
""",
        MNIST,
        20,
        128,
        "bce",
        1.0,
    ),
    Case(  # same convention, flat data: β = 1
        "cfr2ak/KaggleSolutions digit-recognizer/python/vae/loss.py",
        """
import torch
from torch import optim
from torch.nn import functional as F


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

    # 0.5 * sum(1 + log(sigma^2) - mu^2 -sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD
""",
        (784,),
        20,
        128,
        "bce",
        1.0,
    ),
    Case(  # nn.BCELoss module form, reduction='sum': β = 1
        "cesarali/vae src/vae/losses/contrastive_loss.py",
        """
import torch
from torch import nn

def vae_loss(recon_x, x, mu, logvar):
    BCE = nn.BCELoss(reduction='sum')(recon_x, x.view(-1, 784))
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD
""",
        MNIST,
        20,
        64,
        "bce",
        1.0,
    ),
    Case(  # arguments in the order (x, x_hat, mean, log_var): β = 1
        "hienhayho/VAE losses/original_vae.py",
        """
import torch
import torch.nn as nn

def loss_function(x, x_hat, mean, log_var):
    reproduction_loss = nn.functional.binary_cross_entropy(x_hat, x, reduction='sum')
    KLD      = - 0.5 * torch.sum(1+ log_var - mean.pow(2) - log_var.exp())
    return reproduction_loss + KLD
""",
        (784,),
        2,
        100,
        "bce",
        1.0,
    ),
    Case(  # a named weight with no default: β = variational_beta = 4
        "lucmos/relreps src/rae/losses/vae_loss.py",
        """
def vae_loss(recon_x, x, mu, logvar, variational_beta):
    recon_loss = F.binary_cross_entropy(recon_x.view(-1, 784), x.view(-1, 784), reduction="sum")
    kldivergence = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon_loss + variational_beta * kldivergence
""",
        MNIST,
        10,
        128,
        "bce",
        4.0,
        {"variational_beta": 4},
    ),
    Case(  # MSE summed, KL summed: β = 1, σ² = ½
        "PavloUkrainian/GenAI-HW1 losses/vae_loss.py",
        """
import torch
import torch.nn as nn


class VAELoss(nn.Module):
    def __init__(self):
        super(VAELoss, self).__init__()

    def forward(self, recon_x, x, mu, logvar):
        reconstruction_loss = nn.functional.mse_loss(recon_x, x, reduction="sum")
        kl_div = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return reconstruction_loss + kl_div
""",
        (3, 32, 32),
        128,
        64,
        "squared",
        1.0,
    ),
    Case(  # returns (loss, recon, kl): the first is the loss; β = 1
        "azhgh22/Comparative-analysis-of-Generative-models-on-CIFAR-10 losses/vae_loss.py",
        """
def vae_loss(recon_x, x, mu, logvar):
    # Reconstruction loss (MSE)
    recon_loss = F.mse_loss(recon_x, x, reduction='sum')

    # KL Divergence
    kl_div = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return recon_loss + kl_div, recon_loss, kl_div
""",
        (3, 32, 32),
        128,
        128,
        "squared",
        1.0,
    ),
    Case(  # mean over B·D pixels, KL mean over B·J: a = 1/(BD), k = 1/(BJ), β = D/J = 784/20
        "CorcovadoMing/Researchlib researchlib/loss/vae.py",
        """
class VAELoss(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, recon_x, mu, logvar):
        img_loss = F.mse_loss(x, recon_x)
        KLD = - 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean()
        return img_loss + KLD
""",
        MNIST,
        20,
        128,
        "squared",
        784 / 20,
    ),
    Case(  # MSE mean (a = 1/(BD)), KL sum-then-mean (k = w/B), w defaults to 1: β = D = 784
        "ShijianXu/DL_framework losses/losses.py",
        """
def VAE_Loss(recons, input, mu, logvar, kld_weight=1):
    recons_loss = F.mse_loss(recons, input)
    kld_loss = torch.mean(-0.5 * torch.sum(1+logvar - mu**2 - logvar.exp(), dim=1), dim=0)

    vae_loss = recons_loss + kld_weight*kld_loss
    return {
        "loss": vae_loss,
        "recons_loss": recons_loss,
        "KL-Divergence": -kld_loss
    }
""",
        MNIST,
        20,
        128,
        "squared",
        784.0,
    ),
    Case(  # *args/**kwargs, weight from kwargs: β = D·w = 4096·0.005 = 20.48
        "lnguyen258/AstroVAE src/loss/vae_loss.py",
        """
from typing import Dict
import torch
import torch.nn.functional as F

def vae_loss(*args, **kwargs) -> Dict:
        recons = args[0]
        input = args[1]
        mu = args[2]
        log_var = args[3]

        kld_weight = kwargs['kld_weight']
        recons_loss =F.mse_loss(recons, input)
        kld_loss = torch.mean(-0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp(), dim = 1), dim = 0)

        loss = recons_loss + kld_weight * kld_loss
        return {'Loss': loss, 'Reconstruction_Loss':recons_loss.detach(), 'KLD':-kld_loss.detach()}
""",
        (1, 64, 64),
        128,
        64,
        "squared",
        4096 * 0.005,
        {"kld_weight": 0.005},
    ),
    Case(  # tuple unpacking of the model output; β = D·w = 3072·0.01 = 30.72
        "ZhonghuaYi/AutoEncoder loss/VAE_loss.py",
        """
class VAELoss(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, pred, kld_weight):
        recons, input, mu, log_var = pred
        recons_loss = F.mse_loss(recons, input)

        kld_loss = torch.mean(-0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp(), dim=1), dim=0)

        loss = recons_loss + kld_weight * kld_loss

        return {'loss': loss, 'Reconstruction_Loss': recons_loss.detach(), 'KLD': -kld_loss.detach()}
""",
        (3, 32, 32),
        128,
        64,
        "squared",
        3072 * 0.01,
        {"kld_weight": 0.01},
    ),
    Case(  # weight stored in __init__: β = D·w = 784·0.5
        "greyzyl/autoencoder Loss/vae_loss.py",
        """
class VAE_loss(nn.Module):
    def __init__(self,kld_weight) -> None:
        super().__init__()
        self.kld_weight=kld_weight
    def __call__(self,
                      recons,
                      input,
                      mu,
                      log_var,
                      ) -> dict:
        recons_loss =F.mse_loss(recons, input)


        kld_loss = torch.mean(-0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp(), dim = 1), dim = 0)

        loss = recons_loss + self.kld_weight * kld_loss
        return {'loss': loss, 'Reconstruction_Loss':recons_loss.detach(), 'KLD':-kld_loss.detach()}
""",
        (784,),
        16,
        32,
        "squared",
        392.0,
        {"kld_weight": 0.5},
    ),
    Case(  # β = 1, σ² = ½
        "QuocThinh73/music_generation training/utils.py",
        """
def loss_function(recon_x, x, mu, logvar):
    recon_loss = nn.functional.mse_loss(recon_x, x, reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon_loss + KLD
""",
        (128, 16),
        64,
        32,
        "squared",
        1.0,
    ),
    Case(  # β = 1
        "remdui/MultivariateNormativeModeling src/model/loss/bce_kl_loss.py",
        """
def loss_bce_kld(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld
""",
        (100,),
        8,
        32,
        "bce",
        1.0,
    ),
    Case(  # legacy size_average=False: BCE summed (a = 1); KL torch.mean over B·J: β = 1/(BJ)
        "NCAR/holodec-ml holodecml/vae/losses.py",
        """
def loss_fn(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x, size_average=False)
    #BCE = F.mse_loss(recon_x, x, size_average=False)

    KLD = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD, BCE, KLD
""",
        (1, 64, 64),
        32,
        16,
        "bce",
        1 / (16 * 32),
    ),
    Case(  # nn.L1Loss() (recon=None picks it): a = 1/(BD), k = 1/B: Laplace b = β = D = 3072
        "Andrewzh112/codebase vae/loss.py",
        """
from torch import nn
import torch


class VAELoss(nn.Module):
    def __init__(self, recon=None):
        super().__init__()
        if recon == 'l2':
            self.recon = nn.MSELoss()
        else:
            self.recon = nn.L1Loss()

    def _KL_Loss(self, mu, logvar):
        return torch.mean(-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1), dim=0)

    def forward(self, x, x_hat, mu, logvar):
        reconstruction_loss = self.recon(x_hat, x)
        kl_loss = self._KL_Loss(mu, logvar)
        return reconstruction_loss + kl_loss
""",
        (3, 32, 32),
        128,
        64,
        "l1",
        3072.0,
    ),
    Case(  # Keras: BCE means over the last axis (÷784), ×784, K.mean over batch: a = 1/B = k; β = 1
        "wikistat/High-Dimensional-Deep-Learning AutoEncoder/solutions/train_outlier_vae.py",
        """
inputs = kl.Input(shape=(784,), name='encoder_input')
x = kl.Dense(intermediate_dim, activation='relu')(inputs)
z_mean = kl.Dense(latent_dim, name='z_mean')(x)
z_log_var = kl.Dense(latent_dim, name='z_log_var')(x)
outputs = decoder_ad(encoder_ad(inputs))
vae_ad = km.Model(inputs, outputs, name='vae_mlp')

reconstruction_loss = kloss.binary_crossentropy(inputs,outputs)
reconstruction_loss *= 784
kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)
kl_loss = K.sum(kl_loss, axis=-1)
kl_loss *= -0.5
vae_loss = K.mean(reconstruction_loss + kl_loss)
vae_ad.add_loss(vae_loss)
vae_ad.compile(optimizer='adam')
""",
        (784,),
        2,
        128,
        "bce",
        1.0,
        None,
        "keras",
    ),
    Case(  # the --mse branch, ×original_dim: a = 1/B = k, β = 1, σ² = ½
        "keras-team/keras examples/variational_autoencoder.py (mse branch)",
        """
outputs = decoder(encoder(inputs)[2])
vae = Model(inputs, outputs, name='vae_mlp')

reconstruction_loss = mse(inputs, outputs)
reconstruction_loss *= original_dim
kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)
kl_loss = K.sum(kl_loss, axis=-1)
kl_loss *= -0.5
vae_loss = K.mean(reconstruction_loss + kl_loss)
vae.add_loss(vae_loss)
vae.compile(optimizer='adam')
""",
        (784,),
        2,
        128,
        "squared",
        1.0,
        {"original_dim": 784},
        "keras",
    ),
    Case(  # per-example loss given to compile(loss=...): Keras averages it; β = 1
        "keras-team/keras examples/variational_autoencoder.py (Keras 1 version)",
        """
def vae_loss(x, x_decoded_mean):
    xent_loss = original_dim * objectives.binary_crossentropy(x, x_decoded_mean)
    kl_loss = - 0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    return xent_loss + kl_loss

vae = Model(x, x_decoded_mean)
vae.compile(optimizer='rmsprop', loss=vae_loss)
""",
        (784,),
        2,
        100,
        "bce",
        1.0,
        {"original_dim": 784},
        "keras",
    ),
    Case(  # BCE means over the last axis (size 1), summed over 28×28, mean over batch: β = 1
        "keras-team/keras-io examples/generative/vae.py",
        """
class VAE(keras.Model):
    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}
""",
        (28, 28, 1),
        2,
        128,
        "bce",
        1.0,
        None,
        "keras.ops",
    ),
    Case(  # BCE means over the 3 channels (÷3), summed over 64×64: a = w_r/(3B), k = w_k/B, β = 3
        "dbugajny/GeneratingBoredApeYachtClub src/models/vae.py",
        """
class VAE(tf.keras.Model):
    def __init__(self, encoder, decoder, reconstruction_loss_weight, kl_loss_weight):
        self.encoder = encoder
        self.decoder = decoder

        self.reconstruction_loss_weight = reconstruction_loss_weight
        self.kl_loss_weight = kl_loss_weight

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)

            reconstruction = self.decoder(z)
            reconstruction_loss = tf.reduce_mean(
                tf.reduce_sum(tf.keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )

            kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))

            total_loss = self.reconstruction_loss_weight * reconstruction_loss + self.kl_loss_weight * kl_loss

        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
""",
        (64, 64, 3),
        128,
        32,
        "bce",
        3.0,
        {"reconstruction_loss_weight": 1, "kl_loss_weight": 1},
        "tensorflow",
    ),
    Case(  # JAX, everything summed: β = 1, σ² = ½
        "VishwamAI/NeuroFlex src/NeuroFlex/vae.py",
        """
def vae_loss(recon_x, x, mean, logvar):
    bce_loss = jnp.sum(jnp.square(recon_x - x))
    kld_loss = -0.5 * jnp.sum(1 + logvar - jnp.square(mean) - jnp.exp(logvar))
    return bce_loss + kld_loss
""",
        (784,),
        20,
        64,
        "squared",
        1.0,
        None,
        "jax",
    ),
    Case(  # hand-written BCE with +1e-8, KL from torch.distributions in the var form;
        # the last line (ours) averages both over the batch: a = k = 1/B, β = 1
        "CocoGzh/scCorrector scCorrect/net/loss.py (+ one combining line)",
        """
import torch
from torch.distributions import Normal, kl_divergence

def kl_div(mu, var):
    return kl_divergence(Normal(mu, var.sqrt()),
                         Normal(torch.zeros_like(mu),torch.ones_like(var))).sum(dim=1).mean()

def binary_cross_entropy(recon_x, x):
    return -torch.sum(x * torch.log(recon_x + 1e-8) + (1 - x) * torch.log(1 - recon_x + 1e-8), dim=-1)

def loss(recon_x, x, mu, var):  # our line: how the helpers are combined
    return binary_cross_entropy(recon_x, x).mean() + kl_div(mu, var)
""",
        (2000,),
        10,
        64,
        "bce",
        1.0,
    ),
    Case(  # KL from torch.distributions with std; recon line ours: a = k = 1/B, σ² = ½
        "barisbatuhan/SSuperGAN functional/losses/kl_loss.py (+ one recon line)",
        """
def kl_loss(z, mu, std):
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(std))
    q = torch.distributions.Normal(mu, std)

    kl_dvergence = torch.distributions.kl.kl_divergence(q, p)
    kl_loss = kl_dvergence.sum(1).mean()
    return kl_loss

def loss(x_hat, x, z, mu, std):  # our line
    return F.mse_loss(x_hat, x, reduction='sum') / x.size(0) + kl_loss(z, mu, std)
""",
        (3, 64, 64),
        64,
        32,
        "squared",
        1.0,
    ),
    Case(  # TF helpers, KL written as 0.5·(e^logvar + μ² − logvar − 1); combine line ours: β = 1
        "mch5048/monet source/misc/helpers.py (+ one combining line)",
        """
def kl_divergence(mu, logvar):
    kl = 0.5 * (tf.exp(logvar) + tf.square(mu) - logvar - 1.0)
    return tf.reduce_sum(kl, axis=1)

def mse(preds, labels):
    se = tf.reduce_sum(tf.square(preds - labels), axis=[1, 2, 3])
    return tf.reduce_mean(se)

loss = mse(x_hat, x) + tf.reduce_mean(kl_divergence(mu, logvar))  # our line
""",
        (64, 64, 3),
        16,
        32,
        "squared",
        1.0,
        None,
        "tensorflow",
    ),
    Case(  # BCE with logits summed per example, mean over batch; KL line ours: β = 1
        "mark-alfred-griffiths-tech/ML .../concrete_vae_sampler/vae_cost_log_loss.py (+ KL line)",
        """
def custom_sigmoid_cross_entropy_loss_with_logits(x_true, x_recons_logits):
    raw_cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=x_true,
        logits=x_recons_logits)
    neg_log_likelihood = tf.math.reduce_sum(raw_cross_entropy, axis=[1])
    return tf.math.reduce_mean(neg_log_likelihood)

kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + logvar - tf.square(mean) - tf.exp(logvar), axis=1))
loss = custom_sigmoid_cross_entropy_loss_with_logits(x, x_logits) + kl  # our lines
""",
        (300,),
        10,
        64,
        "bce",
        1.0,
        None,
        "tensorflow",
    ),
    Case(  # AntixK's original: kld_weight = kwargs['M_N'] = B/N (32/60000): β = D·w = 12288·w
        "AntixK/PyTorch-VAE models/vanilla_vae.py",
        """
    def loss_function(self,
                      *args,
                      **kwargs) -> dict:
        recons = args[0]
        input = args[1]
        mu = args[2]
        log_var = args[3]

        kld_weight = kwargs['M_N'] # Account for the minibatch samples from the dataset
        recons_loss =F.mse_loss(recons, input)


        kld_loss = torch.mean(-0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp(), dim = 1), dim = 0)

        loss = recons_loss + kld_weight * kld_loss
        return {'loss': loss, 'Reconstruction_Loss':recons_loss.detach(), 'KLD':-kld_loss.detach()}
""".replace("\n    ", "\n"),
        (3, 64, 64),
        128,
        32,
        "squared",
        12288 * 32 / 60000,
        {"kld_weight": 32 / 60000},
    ),
    Case(  # K.flatten over the batch: the mean runs over B·D; ×x.shape[1] = 784: a = 1/B = k, β = 1
        "henrysky/astroNN astroNN/models/loss/vae.py",
        """
def vae_loss(x, x_decoded_mean, z_mean, z_log_var):
    shape = int(x.shape[1])
    x = K.flatten(x)
    x_decoded_mean = K.flatten(x_decoded_mean)
    xent_loss = shape * metrics.binary_crossentropy(x, x_decoded_mean)
    kl_loss = - 0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    return K.mean(xent_loss + kl_loss)
""",
        (784,),
        16,
        64,
        "bce",
        1.0,
        None,
        "keras",
    ),
    Case(  # sum over pixels then / batch on both terms: a = k = 1/B, β = 1
        "cnheider (author named in the file; the index did not name the repository) loss_fn",
        """
def loss_fn(recon_x,
            x,
            mean,
            log_var):
  BCE = torch.nn.functional.binary_cross_entropy(recon_x.view(-1, 28 * 28),
                                                 x.view(-1, 28 * 28),
                                                 reduction='sum')
  KLD = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())

  return (BCE + KLD) / x.size(0)
""",
        MNIST,
        10,
        256,
        "bce",
        1.0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.repo.split()[0] for c in CASES])
def test_real_loss_reads_to_the_hand_worked_beta(case: Case):
    reading = read(case.code, case.shape, case.J, case.B, case.names)
    implied = reading.implied
    assert implied.loss == case.family
    assert implied.beta == pytest.approx(case.beta, rel=1e-12)
    assert reading.kl_coefficient / reading.recon_coefficient == pytest.approx(case.beta, rel=1e-12)
    if case.family == "squared":
        assert implied.sigma2 == pytest.approx(case.beta / 2, rel=1e-12)
    elif case.family == "l1":
        assert implied.scale == pytest.approx(case.beta, rel=1e-12)
    else:
        assert implied.sigma2 is None
    assert reading.framework == case.framework
    assert reading.recon_lines and reading.kl_lines
    # the verdict is implied_sigma's own, for the same numbers
    reference = implied_sigma.implied(
        math.prod(case.shape),
        case.J,
        case.B,
        **{k: v for k, v in reading.reductions.items() if k != "huber_delta"},
    )
    assert implied.verdict == reference.verdict


def test_table_holds_at_least_25_real_losses():
    named = {c.repo.split()[0] for c in CASES if "/" in c.repo.split()[0]}
    whole = {c.repo.split()[0] for c in CASES if "/" in c.repo.split()[0] and "+" not in c.repo}
    assert len(named) >= 25  # distinct public repositories
    assert len(whole) >= 22  # of which the loss is read as the repository has it, no line of ours


def line_of(code: str, text: str) -> int:
    return next(n for n, line in enumerate(code.splitlines(), 1) if text in line)


def test_lines_point_at_the_terms_in_the_users_code():
    case = CASES[0]
    reading = read(case.code, case.shape, case.J, case.B)
    assert line_of(case.code, "BCE =") in reading.recon_lines
    assert line_of(case.code, "KLD =") in reading.kl_lines
    assert line_of(case.code, "KLD =") not in reading.recon_lines
    assert line_of(case.code, "BCE =") not in reading.kl_lines


def test_missing_names_are_asked_for_exactly():
    case = next(c for c in CASES if c.repo.startswith("AntixK"))
    with pytest.raises(MissingNames) as caught:
        read(case.code, case.shape, case.J, case.B)
    assert list(caught.value.missing) == ["kld_weight"]
    assert caught.value.line == line_of(case.code, "loss = recons_loss")
    assert "kld_weight" in str(caught.value)


def test_keras_last_axis_mean_makes_the_data_shape_matter():
    case = next(c for c in CASES if c.repo.startswith("keras-team/keras-io"))
    with_channel = read(case.code, (28, 28, 1), case.J, case.B)
    without = read(case.code.replace("axis=(1, 2)", "axis=1"), (28, 28), case.J, case.B)
    assert with_channel.implied.beta == 1.0
    assert without.implied.beta == 28.0  # the mean over the last axis now divides by 28


REFUSED = [
    (  # the KL is commented out: no KL term
        "bahtman/Adv_ML_Lira src/LossFunction.py",
        """
import torch
import torch.distributions as d
import torch.nn as nn


def elbo_loss(x, z, p_z, p_x_z, q_z_x):
    p_z = d.Normal(torch.zeros_like(q_z_x.loc), torch.ones_like(q_z_x.scale))
    kl = d.kl_divergence(q_z_x, p_z).sum()
    lossfunc = nn.MSELoss()
    log_px = lossfunc(p_x_z.mean,x)
    #log_px = -p_x_z.log_prob(x).sum(0).sum(1)
    loss =  log_px #+ kl
    return loss.mean(), loss, log_px, kl
""",
        "no KL term found",
    ),
    (  # returns the two terms separately; their sum is formed elsewhere
        "fitagdinov/Telescope_Array phd_work/src/train_VAE/loss.py",
        """
def vae_loss(recon_x, x, mu, log_var):
    recon_loss = nn.MSELoss()(recon_x, x)
    kl_divergence = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    return recon_loss, kl_divergence / x.size(0)
""",
        "no KL term found",
    ),
    (  # `rc_losses` is never defined in the repository (a NameError when it runs)
        "ML3ARN/vae_faces losses.py",
        """
import tensorflow as tf

def vae_kl_loss(y_true, y_pred):
    kl_loss = -0.5 * tf.reduce_mean(1 + vae.logvar - tf.square(vae.mean) - tf.exp(vae.logvar))
    return kl_loss

def vae_rc_loss(y_true, y_pred):
    rc_loss = tf.keras.losses.MSE(y_true, y_pred)
    return rc_losses

def vae_loss(y_true, y_pred):
    kl_loss = vae_kl_loss(y_true, y_pred)
    rc_loss = vae_rc_loss(y_true, y_pred)
    kl_weight = 0.01
    return kl_weight*kl_loss + rc_loss
""",
        "rc_losses",
    ),
    (  # the whole if/else of the keras example: which branch runs is a command-line flag
        "keras-team/keras examples/variational_autoencoder.py (both branches)",
        """
if args.mse:
    reconstruction_loss = mse(inputs, outputs)
else:
    reconstruction_loss = binary_crossentropy(inputs,
                                              outputs)

reconstruction_loss *= original_dim
kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)
kl_loss = K.sum(kl_loss, axis=-1)
kl_loss *= -0.5
vae_loss = K.mean(reconstruction_loss + kl_loss)
vae.add_loss(vae_loss)
""",
        "which branch of `if args.mse:`",
    ),
]


@pytest.mark.parametrize("repo,code,message", REFUSED, ids=[r[0].split()[0] for r in REFUSED])
def test_real_losses_the_reader_refuses_say_why(repo, code, message):
    with pytest.raises(LossCodeError) as caught:
        read(code, (784,), 20, 64, {"original_dim": 784})
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


PYTORCH_EXAMPLES_MAIN = """
import argparse
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = torch.randn_like(std)
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\\\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.item() / len(data)))

    print('====> Epoch: {} Average loss: {:.4f}'.format(
          epoch, train_loss / len(train_loader.dataset)))


if __name__ == "__main__":
    for epoch in range(1, args.epochs + 1):
        train(epoch)
"""


def test_a_whole_training_script_is_read_from_the_backward_call():
    """pytorch/examples vae/main.py, model class, loss and training loop: the loss is what
    `.backward()` is called on, inside the loop of `train`."""
    reading = read(PYTORCH_EXAMPLES_MAIN, MNIST, 20, 128)
    assert reading.implied.loss == "bce" and reading.implied.beta == 1.0
    assert line_of(PYTORCH_EXAMPLES_MAIN, "BCE = F.binary") in reading.recon_lines
    assert any("backward" in note for note in reading.notes)


def test_per_example_functions_under_jax_vmap():
    """google/flax examples/vae: `kl_divergence` under @jax.vmap (its sum is per example), with
    a vmapped sum of squares of ours and the batch means: a = k = 1/B, β = 1."""
    code = """
@jax.vmap
def kl_divergence(mean, logvar):
    return -0.5 * jnp.sum(1 + logvar - jnp.square(mean) - jnp.exp(logvar))

@jax.vmap
def sse(x_hat, x):
    return jnp.sum(jnp.square(x_hat - x))

def loss_fn(x_hat, x, mean, logvar):
    return sse(x_hat, x).mean() + kl_divergence(mean, logvar).mean()
"""
    reading = read(code, (784,), 20, 128)
    assert reading.implied.beta == 1.0 and reading.implied.loss == "squared"
    assert reading.reductions["recon_batch"] == reading.reductions["kl_batch"] == "mean"


def test_continuous_bernoulli_log_prob_is_read_with_its_own_wording():
    """The torch.distributions form from the continuous-Bernoulli paper's PyTorch ports."""
    code = """
def loss_function(recon_x, x, mu, logvar):
    nll = -ContinuousBernoulli(probs=recon_x).log_prob(x).sum()
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return nll + kl
"""
    reading = read(code, (784,), 20, 128)
    assert reading.continuous_bernoulli and reading.implied.beta == 1.0
    assert "continuous-Bernoulli (CB) ELBO" in reading.implied.explanation
    assert "ΣBCE" not in reading.implied.explanation


def test_missing_names_are_listed_with_the_given_ones_they_go_with():
    code = "def f(x_hat, x, mu, logvar):\n    return a * F.mse_loss(x_hat, x) + b * torch.sum(mu)\n"
    code = code.replace("torch.sum(mu)", "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())")
    with pytest.raises(MissingNames) as caught:
        read(code, (784,), 20, 128, {"a": 2.0, "unused": 5.0})
    assert list(caught.value.missing) == ["b"]
    assert caught.value.given == ("a",)
    reading = read(code, (784,), 20, 128, {"a": 2.0, "b": 3.0, "unused": 5.0})
    assert reading.names_used == ("a", "b")
    assert reading.implied.beta == pytest.approx(3.0 / (2.0 / (784 * 128)))


ASTRONN = """
def vae_loss(x, x_decoded_mean, z_mean, z_log_var):
    shape = int(x.shape[1])
    x = K.flatten(x)
    x_decoded_mean = K.flatten(x_decoded_mean)
    xent_loss = shape * metrics.binary_crossentropy(x, x_decoded_mean)
    kl_loss = - 0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    return K.mean(xent_loss + kl_loss)
"""


@pytest.mark.parametrize("shape, beta", [((784,), 1.0), ((28, 28), 28.0)])
def test_astronn_scales_by_the_first_data_axis_only(shape, beta):
    """henrysky/astroNN astroNN/models/loss/vae.py: K.flatten over the whole batch makes the
    Keras mean run over B·D elements; `shape = x.shape[1]` undoes it only for flat data.
    Flat: a = 784/(B·784) = 1/B = k, β = 1. Images 28×28: a = 28/(B·784), β = 28."""
    reading = read(ASTRONN, shape, 16, 64)
    assert reading.implied.loss == "bce"
    assert reading.implied.beta == pytest.approx(beta)
    assert reading.framework == "keras"


@pytest.mark.parametrize(
    "recon, kl, shape, beta",
    [
        # per sample: mean over the last axis (÷28); then the mean over B·28: a = 1/(784B);
        # KL summed per example then averaged: k = 1/B; β = 784
        (
            "tf.keras.losses.MeanSquaredError()(x, x_hat)",
            "K.mean(-0.5 * K.sum(1 + lv - K.square(mu) - K.exp(lv), axis=-1))",
            (28, 28),
            784.0,
        ),
        # per sample ÷784, Reduction.SUM over the batch: a = 1/784; KL summed over all: k = 1
        (
            "tf.keras.losses.BinaryCrossentropy(reduction=tf.keras.losses.Reduction.SUM)(x, x_hat)",
            "-0.5 * K.sum(1 + lv - K.square(mu) - K.exp(lv))",
            (784,),
            784.0,
        ),
        # optax.l2_loss is ½(x̂ − x)²: a = ½, k = 1, β = 2 (σ² = 1)
        (
            "jnp.sum(optax.l2_loss(x_hat, x))",
            "-0.5 * jnp.sum(1 + lv - jnp.square(mu) - jnp.exp(lv))",
            (784,),
            2.0,
        ),
        # ops.mean over everything on both terms: a = 1/(BD), k = 1/(BJ), β = D/J = 784/16
        (
            "ops.mean(ops.square(x - x_hat))",
            "-0.5 * ops.mean(1 + lv - ops.square(mu) - ops.exp(lv))",
            (784,),
            49.0,
        ),
    ],
)
def test_keras_tf_jax_library_forms(recon, kl, shape, beta):
    code = f"def loss(x, x_hat, mu, lv):\n    return {recon} + {kl}\n"
    reading = read(code, shape, 16, 64)
    assert reading.implied.beta == pytest.approx(beta)
