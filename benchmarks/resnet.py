"""resnet: one training step of examples/resnet.py's ResNet, autograd-core and PyTorch.

The example's model at its defaults (a 3x3 stem convolution to 16 channels,
three stages of one BasicBlock each at widths 16, 32, 64 on 8x8, 4x4 and 2x2,
BatchNorm in training mode, global average pooling, Linear 64->10) and its
optimizer (SGD, lr 0.1, momentum 0.9, Nesterov, weight decay 5e-4), at its
batch size, 32 images of 1x8x8. The images are random normal numbers and the
labels random classes, not the digits (the bench environment has no
scikit-learn, which bundles them; the data do not change the work). No
hand-written floor: a ResNet's is not practical, so the row shows times, and
the note below the table autograd-core's ratio to PyTorch. PyTorch's twin has
the same parameter names and starts from autograd-core's weights; the first
call makes two steps and returns both losses, so the momentum update is
checked too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from harness import Case, classifier_step, load_nn, two_steps_first

N = 32
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 5e-4
ROOT = Path(__file__).resolve().parents[1]


def load_example():
    """examples/resnet.py as a module (examples/ is not a package)."""
    name = "example_resnet"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "resnet.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def torch_resnet(widths=(16, 32, 64), blocks=1, in_channels=1, num_classes=10):
    """examples/resnet.py's ResNet in PyTorch, parameter for parameter (names, shapes)."""
    import torch

    tnn, tF = torch.nn, torch.nn.functional

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = (tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride=stride,
                                                         bias=False), tnn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            out = tF.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return tF.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.stem = tnn.Sequential(tnn.Conv2d(in_channels, widths[0], 3, padding=1,
                                                  bias=False),
                                       tnn.BatchNorm2d(widths[0]), tnn.ReLU())
            layers, channels = [], widths[0]
            for i, width in enumerate(widths):
                for j in range(blocks):
                    layers.append(BasicBlock(channels, width, 2 if i > 0 and j == 0 else 1))
                    channels = width
            self.layers = tnn.Sequential(*layers)
            self.pool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(channels, num_classes)

        def forward(self, x):
            x = self.pool(self.layers(self.stem(x)))
            return self.fc(x.reshape(x.shape[0], -1))

    return ResNet()


def make_impls(n=N, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, n)
    weights = {}  # autograd-core's initial weights, for PyTorch's twin

    def autograd_core():
        ag, _, F, optim = load_nn()
        ag.manual_seed(0)
        model = load_example().ResNet()
        weights.update((name, np.array(p.data)) for name, p in model.named_parameters())
        opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True,
                        weight_decay=WEIGHT_DECAY)
        return two_steps_first(classifier_step(model, opt, ag.as_tensor(x), ag.as_tensor(y),
                                               F.cross_entropy))

    def pytorch():
        import torch

        if not weights:  # autograd-core not importable: its weights are not there
            raise ImportError("PyTorch's ResNet starts from autograd-core's weights")
        model = torch_resnet()
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.from_numpy(weights[name]))
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True,
                              weight_decay=WEIGHT_DECAY)
        return two_steps_first(classifier_step(model, opt, torch.from_numpy(x), torch.from_numpy(y),
                               torch.nn.functional.cross_entropy))

    return {"autograd-core": autograd_core, "PyTorch": pytorch}


def cases(quick: bool) -> list[Case]:
    return [Case(f"resnet batch {N}", make_impls(), rtol=1e-4, reference="PyTorch")]
