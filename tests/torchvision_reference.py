"""Reference outputs of torchvision's video ResNets with random weights, for tests/test_weights_torchvision.py.

Run in its own Python process (``python tests/torchvision_reference.py OUT SPEC``):
importing torchvision after TensorFlow crashes the interpreter (a segmentation
fault in ``torch._dynamo``'s import, torch 2.14 with TensorFlow 2.21), and the
tests run with TensorFlow loaded. It imports neither Keras nor videokit.

``SPEC`` is a JSON list of cases ``{"name", "architecture", "layers",
"num_classes", "clips": [[batch, time, height, width], ...]}``; for each case
it writes ``OUT/<name>.pth`` (the state dict) and ``OUT/<name>.npz`` (``clips0``,
``logits0``, ...: videokit's clips in ``[0, 1]``, ``(batch, time, height,
width, 3)``, and torchvision's logits on them).
"""

import json
import pathlib
import sys

import numpy as np
import torch
from torchvision.models.video import resnet

# The parts of torchvision's r3d_18, mc3_18 and r2plus1d_18 (torchvision/models/video/resnet.py).
NETWORKS = {
    "r3d_18": ([resnet.Conv3DSimple] * 4, resnet.BasicStem),
    "mc3_18": ([resnet.Conv3DSimple] + [resnet.Conv3DNoTemporal] * 3, resnet.BasicStem),
    "r2plus1d_18": ([resnet.Conv2Plus1D] * 4, resnet.R2Plus1dStem),
}
# torchvision's Kinetics-400 transforms (videokit.models.conv3d.KINETICS_MEAN and KINETICS_STD).
MEAN = np.array((0.43216, 0.394666, 0.37645), "float32")
STD = np.array((0.22803, 0.22145, 0.216989), "float32")


def normalised(clips):
    """videokit's clips in [0, 1] as torchvision's model takes them: normalised, (batch, channels, time, h, w)."""
    return torch.from_numpy(np.ascontiguousarray(((clips - MEAN) / STD).transpose(0, 4, 1, 2, 3)))


def reference(architecture, layers, num_classes, seed=0):
    """A torchvision video ResNet in eval mode, with random weights, batch-norm statistics included.

    Batch-norm weights and biases are drawn first, the statistics are then
    measured on random clips (so that activations keep their scale through
    the network, as in a trained one) and scaled and shifted at random.
    """
    torch.manual_seed(seed)
    conv_makers, stem = NETWORKS[architecture]
    model = resnet.VideoResNet(resnet.BasicBlock, conv_makers, list(layers), stem, num_classes=num_classes)
    norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm3d)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.copy_(torch.rand(norm.num_features) + 0.5)
            norm.bias.copy_(0.2 * torch.randn(norm.num_features))
            norm.momentum = None  # a cumulative average: after one batch, that batch's statistics
            norm.reset_running_stats()
        model.train()
        model(normalised(np.random.default_rng(seed).uniform(size=(2, 8, 32, 32, 3)).astype("float32")))
        for norm in norms:
            norm.running_var.mul_(0.8 + 0.45 * torch.rand(norm.num_features))
            norm.running_mean.add_(0.1 * torch.randn(norm.num_features) * norm.running_var.sqrt())
            norm.momentum = 0.1
    model.fc.reset_parameters()
    return model.eval()


def write_case(out, case, seed):
    model = reference(case["architecture"], case["layers"], case["num_classes"])
    torch.save(model.state_dict(), out / f"{case['name']}.pth")
    rng = np.random.default_rng(seed)
    arrays = {}
    for index, shape in enumerate(case["clips"]):
        clips = rng.uniform(size=(*shape, 3)).astype("float32")
        with torch.no_grad():
            arrays[f"clips{index}"], arrays[f"logits{index}"] = clips, model(normalised(clips)).numpy()
    arrays["parameters"] = np.array(sum(parameter.numel() for parameter in model.parameters()))
    np.savez(out / f"{case['name']}.npz", **arrays)


def main(out, spec):
    out = pathlib.Path(out)
    for seed, case in enumerate(json.loads(spec)):
        write_case(out, case, seed)


if __name__ == "__main__":
    main(*sys.argv[1:])
