"""nn.gan: generative adversarial networks on autograd_core.

    from nn.gan import Generator, Discriminator, GAN
    G, D = Generator(2, 2), Discriminator(2)
    gan = GAN(G, D, optim.Adam(G.parameters(), 1e-3, (0.5, 0.999)),
              optim.Adam(D.parameters(), 1e-3, (0.5, 0.999)), loss="non_saturating")
    history = gan.fit(data, epochs=10, batch_size=256)
    x = gan.sample(1000)

models: the MLP generator and discriminator; losses: the four objectives and
the WGAN-GP penalty; trainer: the alternating updates; ring: the 8-Gaussian
ring data, its mode-coverage measure and a ready-made training run.
"""

from .losses import LOSSES, GanLoss, get_loss, gradient_penalty
from .models import Discriminator, Generator, mlp
from .ring import mode_coverage, ring_centres, ring_data, train_ring_gan
from .trainer import GAN

__all__ = ["Generator", "Discriminator", "GAN", "GanLoss", "LOSSES", "get_loss",
           "gradient_penalty", "mlp", "ring_centres", "ring_data", "mode_coverage",
           "train_ring_gan"]
